// Waits for the next task of the event loop, not a microtask: lets timers and messages (an abort, a
// dispose(), a worker's cancel) run between two steps of a backend whose steps never leave the
// microtask queue (localm's WASM kernels and onnxruntime-web's WASM compute synchronously).

/** Resolves in a later task: setImmediate in Node, a MessageChannel round trip elsewhere (setTimeout clamps to 4 ms). */
export function nextTask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
