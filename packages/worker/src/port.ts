// Listening on a message port of either kind: a DOM MessagePort or a node:worker_threads MessagePort.

/** Something that can receive messages and send them: either kind of MessagePort. */
export interface PortLike {
  postMessage(message: unknown): void;
  close(): void;
}

/** Calls `onMessage` with each message's data; starts a DOM port (worker_threads ports start on `on`). */
export function listen(port: PortLike, onMessage: (data: unknown) => void): void {
  const nodePort = port as unknown as { on?: (type: 'message', fn: (data: unknown) => void) => void };
  if (typeof nodePort.on === 'function') nodePort.on('message', onMessage);
  else {
    const dom = port as unknown as MessagePort;
    dom.addEventListener('message', (e) => onMessage(e.data));
    dom.start();
  }
}
