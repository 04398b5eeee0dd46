// Instantiates the decoder module: single-threaded, or threaded over one shared memory with a worker
// per extra thread (worker_threads in Node, Web Workers in browsers: from a page's Web Worker, nested
// workers). Knows nothing of models.

import { LocalmError } from '@localm/errors';

/** The C exports (csrc/*.c). Pointers are byte offsets into memory, read back with `>>> 0`. */
export interface KernelExports {
  lm_alloc(bytes: number): number;
  lm_heap_mark(): number;
  lm_heap_reset(mark: number): void;
  lm_set_threads(n: number): void;
  lm_create(...args: number[]): number;
  lm_ptr(what: number, layer: number): number;
  lm_load_linear(layer: number, which: number, row0: number, n: number, k: number, isQ4: number, src: number, scales: number): number;
  lm_forward(tokens: number, pos0: number): number;
  lm_test_linear(isQ4: number, n: number, k: number, src: number, scales: number, x: number, tokens: number, y: number): number;
  lm_test_rmsnorm(out: number, x: number, w: number, n: number, eps: number): void;
  lm_test_rope(v: number, heads: number, headDim: number, cos: number, sin: number, interleaved: number): void;
  lm_test_swiglu(out: number, gate: number, up: number, n: number): void;
  lm_test_attend(out: number, q: number, k: number, v: number, len: number, headDim: number, scale: number, scores: number): void;
  lm_stop_workers?(): void;
}

export interface KernelRuntime {
  readonly exports: KernelExports;
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  /** Bytes of linear memory, valid until the next allocation grows it. */
  bytes(): Uint8Array;
  /** Copies `src` into linear memory at `ptr`. */
  write(ptr: number, src: ArrayBufferView): void;
  dispose(): Promise<void>;
}

const WORKER_STACK_BYTES = 1 << 18;

/** Reads wasm/<name> next to this package: the file system in Node, fetch elsewhere. */
async function loadBinary(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(`../wasm/${name}`, import.meta.url);
  if (url.protocol === 'file:') {
    const fsModule = 'node:fs/promises';
    const { readFile } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new LocalmError('not_found', `${url.href}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function makeRuntime(exports: KernelExports, memory: WebAssembly.Memory, threads: number, stop: () => Promise<void>): KernelRuntime {
  return {
    exports,
    memory,
    threads,
    bytes: () => new Uint8Array(memory.buffer),
    write(ptr, src) {
      new Uint8Array(memory.buffer).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), ptr >>> 0);
    },
    dispose: stop,
  };
}

/**
 * Whether this thread may block in `Atomics.wait` (memory.atomic.wait32): true in Node and in Web
 * Workers, false on a window's main thread, where browsers forbid blocking (it would freeze the page).
 * The threaded kernels' calling thread waits there for the others' shares of each step, so threads
 * need a thread that may block: a model run from a page's main thread gets one thread.
 * Probed by doing it: a wait on a value that does not match returns 'not-equal' at once, or throws.
 */
export function canWaitOnThisThread(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the kernels with `threads` threads (1: no workers, no SharedArrayBuffer needed).
 * `binary` overrides the packaged .wasm (for bundlers that serve it elsewhere).
 */
export async function startKernels(threads: number, binary?: Uint8Array<ArrayBuffer>): Promise<KernelRuntime> {
  if (threads <= 1) {
    const module = await WebAssembly.compile(binary ?? (await loadBinary('decoder.wasm')));
    const instance = await WebAssembly.instantiate(module, {});
    const exports = instance.exports as unknown as KernelExports;
    return makeRuntime(exports, instance.exports['memory'] as WebAssembly.Memory, 1, async () => {});
  }
  if (typeof SharedArrayBuffer === 'undefined') {
    throw new LocalmError('no_backend', 'wasm threads need SharedArrayBuffer (in a browser: a cross-origin isolated page, COOP + COEP)');
  }
  if (!canWaitOnThisThread()) {
    throw new LocalmError('no_backend', "wasm threads: this thread may not block (Atomics.wait), as on a window's main thread; run the model in a Web Worker for threads");
  }
  const module = await WebAssembly.compile(binary ?? (await loadBinary('decoder-mt.wasm')));
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as unknown as KernelExports;
  exports.lm_set_threads(threads);
  const stacks: number[] = [];
  for (let i = 1; i < threads; i++) {
    const base = exports.lm_alloc(WORKER_STACK_BYTES) >>> 0;
    if (base === 0) throw new LocalmError('out_of_memory', 'no memory for worker stacks');
    stacks.push(base + WORKER_STACK_BYTES);
  }
  const workers = await Promise.all(stacks.map((stackTop, i) => spawnWorker(module, memory, i + 1, stackTop)));
  return makeRuntime(exports, memory, threads, async () => {
    exports.lm_stop_workers?.();
    await Promise.all(workers.map((w) => w.stop()));
  });
}

// The worker's whole program: instantiate on the shared memory, take its own stack, run lm_worker.
const WORKER_BODY = `
  const inst = new WebAssembly.Instance(data.module, { env: { memory: data.memory } });
  inst.exports.__stack_pointer.value = data.stackTop;
  post('ready');
  inst.exports.lm_worker(data.id);
  post('done');
`;

interface ThreadHandle {
  stop(): Promise<void>;
}

async function spawnWorker(module: WebAssembly.Module, memory: WebAssembly.Memory, id: number, stackTop: number): Promise<ThreadHandle> {
  const data = { module, memory, id, stackTop };
  // Ask for Node first: onnxruntime-web's Node build installs a global `Worker` that only takes paths.
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  if (!isNode && typeof Worker === 'function') {
    const source = `self.onmessage = (e) => { const data = e.data; const post = (m) => self.postMessage(m); ${WORKER_BODY} };`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const worker = new Worker(url);
    URL.revokeObjectURL(url);
    const done = new Promise<void>((resolve) => worker.addEventListener('message', (e) => e.data === 'done' && resolve()));
    await new Promise<void>((resolve, reject) => {
      worker.addEventListener('message', (e) => e.data === 'ready' && resolve());
      worker.addEventListener('error', (e) => reject(new LocalmError('no_backend', `wasm worker failed: ${e.message}`)));
      worker.postMessage(data);
    });
    return { stop: async () => { await done; worker.terminate(); } };
  }
  const threadsModule = 'node:worker_threads';
  const { Worker: NodeWorker } = (await import(/* @vite-ignore */ threadsModule)) as typeof import('node:worker_threads');
  const source = `const { parentPort, workerData: data } = require('node:worker_threads'); const post = (m) => parentPort.postMessage(m); ${WORKER_BODY}`;
  const worker = new NodeWorker(source, { eval: true, workerData: data });
  worker.unref();
  const done = new Promise<void>((resolve) => worker.on('message', (m) => m === 'done' && resolve()));
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m) => m === 'ready' && resolve());
    worker.on('error', (cause) => reject(new LocalmError('no_backend', `wasm worker failed: ${String(cause)}`, { cause })));
  });
  return { stop: async () => { await done; await worker.terminate(); } };
}

