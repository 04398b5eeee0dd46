// loadModel(): reads a model folder, opens its tokenizer and decoder, and returns a Model.

import { createDecoder, type Decoder, type Device, type DeviceRequest, type RuntimeEngine, type SkippedDevice, type WasmEngineRequest } from '@localm/backend';
import { LocalmError } from '@localm/errors';
import { loadTokenizer, type Tokenizer } from '@localm/tokenizer';
import { chatPromptIds, type ChatMessage, type ChatOptions } from './chat.js';
import { DEFAULT_GENERATION, generateTokens, type GenerateOptions, type GenerationEvent } from './generate.js';
import { createChatCompletions, type ChatCompletions, type ChatFunction } from './openai.js';
import { parseJson, parseModelConfig, type ModelConfig } from './model-config.js';
import { openModelStore, type ModelSource, type ModelStore } from './model-store.js';
import type { ModelCache } from './loading/model-cache.js';
import type { LoadProgress } from './loading/progress.js';

export interface LoadModelOptions {
  device?: DeviceRequest; // default 'auto': cpu (native) in Node, else webgpu, then wasm
  numThreads?: number; // default: the runtime's choice
  // Positions one conversation may hold, prompt included; default min(the model's, DEFAULT_CONTEXT_LENGTH).
  // Devices that reserve their KV cache up front (localm's WASM kernels) size it from this.
  contextLength?: number;
  wasmEngine?: WasmEngineRequest; // 'auto' (default): localm's WASM kernels where they support the model, else onnxruntime-web
  onProgress?: (progress: LoadProgress) => void; // bytes of all files: at most every ~100 ms, and once at the end
  // Stops the load at any stage (download, reading, session creation): its reason is rethrown, nothing is
  // cached and no session stays open. A session being created is released as soon as its creation returns.
  signal?: AbortSignal;
  cache?: ModelCache | false; // for URLs; default openModelCache() (Cache API in browsers, a folder in Node); false: memory only
  sha256?: Readonly<Record<string, string>>; // file path → hex digest, checked for every source; wins over localm.json
}

/** What was loaded and what was decided. */
export interface ModelInfo {
  source: string;
  device: Device; // the device in use
  engine: RuntimeEngine; // the code running it: 'localm-wasm', 'onnxruntime-web' or 'onnxruntime-node'
  engineNotes: string[]; // engines passed over on that device, with reasons
  skippedDevices: SkippedDevice[]; // devices not used, with reasons
  modelType: string;
  vocabSize: number;
  contextLength: number;
  eosTokenIds: number[];
}

/**
 * What a loaded model offers across any boundary (in-process, or a worker: see @localm/worker).
 * Everything here is plain data and async, so a worker client can implement it too.
 */
export interface Engine {
  readonly info: ModelInfo;
  /**
   * Streams a continuation of `prompt` (text, or token ids used as given).
   * @example
   * for await (const e of model.generate('Once upon a time', { maxTokens: 64 })) if (e.type === 'text') process.stdout.write(e.text);
   */
  generate(prompt: string | readonly number[], options?: GenerateOptions): AsyncIterable<GenerationEvent>;
  /**
   * Streams the assistant's reply to `messages`, rendered with the model's chat template. The KV cache
   * keeps the conversation: the next turn computes only what is new. `chat.completions.create` is the
   * OpenAI-compatible form of the same call.
   * @example
   * const reply = await model.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] });
   */
  readonly chat: ChatFunction & { completions: ChatCompletions };
  /** Frees the model; every later call throws `disposed`. */
  dispose(): Promise<void>;
}

/** A model loaded in this thread: the Engine plus direct access to its tokenizer. Holds memory until `dispose()`. */
export interface Model extends Engine {
  readonly tokenizer: Tokenizer;
}

/** A 128k-position model would otherwise reserve gigabytes of KV cache it rarely uses on a device. */
export const DEFAULT_CONTEXT_LENGTH = 4096;

const GRAPH_FILE = 'onnx/model.onnx';
const EXTERNAL_DATA_FILE = 'model.onnx_data'; // relative to the graph, as the graph names it

function withContextLength(config: ModelConfig, requested: number | undefined): ModelConfig {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 2)) {
    throw new LocalmError('invalid_argument', `contextLength ${requested}: give a whole number of positions, at least 2`);
  }
  return { ...config, contextLength: Math.min(config.contextLength, requested ?? DEFAULT_CONTEXT_LENGTH) };
}

/**
 * Loads a model folder in the Hugging Face ONNX layout from a path, an http(s) URL (downloaded into the
 * model cache once) or the files of a folder the user picked.
 * @example
 * const model = await loadModel('models/stories260k', { device: 'auto' });
 * console.log(model.info.device);
 * const web = await loadModel('https://example.com/stories260k/', { onProgress: (p) => bar.value = p.loadedBytes / p.totalBytes });
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
  const { signal } = options;
  const store = await openModelStore(source, options);
  const config = withContextLength(await readModelConfig(store), options.contextLength);
  const tokenizerJson = await readRequired(store, 'tokenizer.json');
  const tokenizerConfigBytes = await store.read('tokenizer_config.json');
  const tokenizer = loadTokenizer({
    tokenizerJson: parseJson(tokenizerJson, 'tokenizer.json'),
    ...(tokenizerConfigBytes ? { tokenizerConfigJson: parseJson(tokenizerConfigBytes, 'tokenizer_config.json') } : {}),
  });
  const graph = await readRequired(store, GRAPH_FILE);
  signal?.throwIfAborted();
  const graphPath = store.localPath(GRAPH_FILE);
  const decoder = await createDecoder(
    {
      graph,
      ...(graphPath ? { graphPath } : {}),
      externalData: [],
      // Read only if the chosen runtime needs the bytes: native onnxruntime maps the file from graphPath.
      loadExternalData: async () => {
        const data = await store.read(`onnx/${EXTERNAL_DATA_FILE}`);
        return data ? [{ path: EXTERNAL_DATA_FILE, data }] : [];
      },
      openExternalData: async () => {
        const reader = await store.openRanges?.(`onnx/${EXTERNAL_DATA_FILE}`);
        return reader && { files: [{ path: EXTERNAL_DATA_FILE, data: reader }], close: () => reader.close() };
      },
    },
    {
      device: options.device ?? 'auto',
      contextLength: config.contextLength,
      ...(options.numThreads === undefined ? {} : { numThreads: options.numThreads }),
      ...(options.wasmEngine === undefined ? {} : { wasmEngine: options.wasmEngine }),
      ...(signal ? { signal } : {}),
    },
  );
  if (signal?.aborted) {
    await decoder.dispose();
    signal.throwIfAborted();
  }
  if (decoder.info.vocabSize !== config.vocabSize) {
    await decoder.dispose();
    throw new LocalmError('corrupt_model', `${GRAPH_FILE} has ${decoder.info.vocabSize} logits but config.json says vocab_size ${config.vocabSize}`);
  }
  return new LoadedModel(
    { source: store.location, device: decoder.info.device, engine: decoder.info.engine, engineNotes: decoder.info.engineNotes, skippedDevices: decoder.info.skipped, ...config },
    tokenizer,
    decoder,
    config,
  );
}

async function readModelConfig(store: ModelStore): Promise<ModelConfig> {
  const config = await store.read('config.json');
  if (!config) throw new LocalmError('not_found', `${store.location} has no config.json: is it a model folder in the Hugging Face ONNX layout?`);
  const generation = await store.read('generation_config.json');
  return parseModelConfig(parseJson(config, 'config.json'), generation && parseJson(generation, 'generation_config.json'));
}

async function readRequired(store: ModelStore, name: string): Promise<Uint8Array> {
  const bytes = await store.read(name);
  if (!bytes) throw new LocalmError('not_found', `${store.location} has no ${name}`);
  return bytes;
}

class LoadedModel implements Model {
  #queue: Promise<unknown> = Promise.resolve();
  #cachedIds: number[] = []; // the token ids whose keys and values are in the decoder's KV cache
  #disposed = false;
  readonly #runs = new Set<AbortController>(); // one per generation holding the lock: dispose() ends them
  #stepping: Promise<unknown> = Promise.resolve(); // the decoder step in flight, if any
  readonly #decoder: Decoder; // the decoder, with its in-flight step recorded
  readonly chat: Model['chat'];

  constructor(
    readonly info: ModelInfo,
    readonly tokenizer: Tokenizer,
    private readonly decoder: Decoder,
    private readonly config: ModelConfig,
  ) {
    this.#decoder = {
      info: decoder.info,
      get cachedTokens() {
        return decoder.cachedTokens;
      },
      step: (ids) => {
        const step = decoder.step(ids);
        this.#stepping = step.catch(() => undefined);
        return step;
      },
      truncate: (length) => decoder.truncate(length),
      dispose: () => decoder.dispose(),
    };
    const chat = (messages: readonly ChatMessage[], options: ChatOptions = {}): AsyncIterable<GenerationEvent> => {
      this.#check();
      const context = this.info.contextLength;
      // Dropping turns must leave room for the reply; failing needs only the prompt to fit.
      const reserve = options.contextOverflow === 'dropOldest' ? Math.min(options.maxTokens ?? DEFAULT_GENERATION.maxTokens, context >> 1) : 0;
      // Rendering and its errors (context_full) happen when iteration starts, as for generate().
      const run = async function* (this: LoadedModel): AsyncGenerator<GenerationEvent> {
        yield* this.generate(chatPromptIds(this.tokenizer, messages, context - reserve, options), options);
      };
      return { [Symbol.asyncIterator]: () => run.call(this) };
    };
    this.chat = Object.assign(chat, { completions: createChatCompletions(chat, info.modelType) });
  }

  generate(prompt: string | readonly number[], options: GenerateOptions = {}): AsyncIterable<GenerationEvent> {
    this.#check();
    const promptIds = typeof prompt === 'string' ? this.tokenizer.encode(prompt) : [...prompt];
    const run = async function* (this: LoadedModel): AsyncGenerator<GenerationEvent> {
      // Generations on one model run one after another: they share one KV cache.
      const release = await this.#lock();
      // The run stops on the caller's signal (its reason) or on dispose() ('disposed'), between tokens
      // and between prefill chunks.
      const run = new AbortController();
      const forward = (): void => run.abort(options.signal?.reason);
      try {
        this.#check();
        options.signal?.throwIfAborted();
        options.signal?.addEventListener('abort', forward, { once: true });
        this.#runs.add(run);
        yield* generateTokens({ decoder: this.#decoder, tokenizer: this.tokenizer, config: this.config, cachedIds: this.#cachedIds }, promptIds, { ...options, signal: run.signal });
      } finally {
        options.signal?.removeEventListener('abort', forward);
        this.#runs.delete(run);
        release();
      }
    };
    return { [Symbol.asyncIterator]: () => run.call(this) };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    // The open run ends at its next check (queued ones see #disposed when their turn comes). Only a step
    // in flight is waited for: a run whose caller stopped pulling events would hold the lock forever.
    for (const run of this.#runs) run.abort(new LocalmError('disposed', 'the model was disposed during this generation'));
    await this.#stepping;
    await this.decoder.dispose();
  }

  #lock(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const turn = this.#queue.then(() => release);
    this.#queue = this.#queue.then(() => held);
    return turn;
  }

  #check(): void {
    if (this.#disposed) throw new LocalmError('disposed', 'this model was disposed');
  }
}
