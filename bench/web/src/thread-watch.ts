// Counts the Web Workers a run starts from the bench worker (localm's kernel threads, onnxruntime-web's
// pthreads): the threads that really ran, beside the number asked for. Imported before any runtime.

let started = 0;
const NativeWorker = globalThis.Worker;
if (typeof NativeWorker === 'function') {
  // A Proxy, not a subclass: the runtimes' `new Worker(url, options)` must get a real Worker back.
  globalThis.Worker = new Proxy(NativeWorker, {
    construct(target, args: [string | URL, WorkerOptions?], newTarget) {
      started++;
      return Reflect.construct(target, args, newTarget) as Worker;
    },
  });
}

/** Workers started in this worker so far. */
export function workersStarted(): number {
  return started;
}
