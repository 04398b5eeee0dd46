// Counts the runtime instances open in this thread: onnxruntime sessions and localm WASM kernel
// instances (with their worker threads). A load that is aborted, fails or is disposed must bring the
// count back; the fault tests read it (packages/core/test/faults.test.ts), so a leak fails a test.

let open = 0;

/** Runtime instances opened and not yet released in this thread. Internal: for tests and diagnostics. */
export function openRuntimeCount(): number {
  return open;
}

/** Counts one opened instance; call the returned function once it has been released. */
export function trackRuntime(): () => void {
  open++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    open--;
  };
}
