// The wllama peer (llama.cpp compiled to WASM, @wllama/wllama) on the GGUF that holds the same weights
// as the ONNX folder: the same prompt ids, greedy, EOS ignored (llama-server's `ignore_eos`, so every
// run generates genTokens), its multi-thread build when the page is cross-origin isolated. wllama runs
// llama.cpp in a worker of its own (and its threads under that), started from this bench worker.
// The package's main (index.js) is not shipped: its built ES module is esm/index.js.
import { Wllama, type RawCompletionChunk } from '@wllama/wllama/esm/index.js';
import wllamaWasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import type { BrowserRawRun } from '../../src/browser/browser-result.js';
import type { RunRequest, RunSource } from './protocol.js';

const quiet = { debug: () => {}, log: () => {}, warn: (...a: unknown[]) => console.warn(...a), error: (...a: unknown[]) => console.error(...a) };

/** GPT-2's byte-level alphabet: the character each byte is written as in a byte-level BPE vocab. */
function byteLevelChars(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.map((b) => String.fromCodePoint(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(String.fromCodePoint(256 + extra++));
    }
  }
  return new Map(chars.map((c, i) => [c, bytes[i]!]));
}

interface TokenizerJson {
  model: { vocab: Record<string, number> };
  added_tokens?: { id: number }[];
}

async function tokenizerJson(source: RunSource): Promise<TokenizerJson> {
  if (source.kind === 'url') return (await (await fetch(new URL('tokenizer.json', source.url))).json()) as never;
  if (source.kind === 'files') {
    const file = source.files.find((f) => f.name === 'tokenizer.json' || f.webkitRelativePath.endsWith('/tokenizer.json'));
    if (!file) throw new Error('the model folder has no tokenizer.json');
    return JSON.parse(await file.text()) as never;
  }
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(source.dir);
  return JSON.parse(await (await (await dir.getFileHandle('tokenizer.json')).getFile()).text()) as never;
}

/** The folder's byte-level vocab: each id's bytes; added (special) tokens left out. */
async function vocabBytes(source: RunSource): Promise<Map<number, number[]>> {
  const json = await tokenizerJson(source);
  const added = new Set((json.added_tokens ?? []).map((t) => t.id));
  const byteOf = byteLevelChars();
  return new Map(Object.entries(json.model.vocab).filter(([, id]) => !added.has(id)).map(([piece, id]) => [id, [...piece].map((c) => byteOf.get(c) ?? 0x3f)]));
}

const isPrintableAscii = (bytes: readonly number[]): boolean => bytes.length > 0 && bytes.every((b) => b >= 0x20 && b < 0x7f);

/**
 * The prompt as text: wllama takes text prompts only (its completion glue reads `prompt` as a string),
 * so llama.cpp tokenizes this again. Each of our ids whose piece is not printable ASCII is swapped for
 * one that is (chosen by the id, so the same every run): stray UTF-8 bytes would come back as U+FFFD,
 * 3 bytes each, and about triple the prompt llama.cpp sees. The count it gets (timings.prompt_n) is the
 * prompt length wllama's prefill is measured on; its ids are not ours.
 */
function promptText(bytesOf: ReadonlyMap<number, number[]>, ids: readonly number[]): string {
  const ascii = [...bytesOf].filter(([, bytes]) => isPrintableAscii(bytes)).map(([id]) => id).sort((a, b) => a - b);
  const bytes = ids.flatMap((id) => bytesOf.get(isPrintableAscii(bytesOf.get(id) ?? []) ? id : ascii[id % ascii.length]!)!);
  return new TextDecoder().decode(new Uint8Array(bytes));
}

export async function runWllama(request: RunRequest): Promise<BrowserRawRun> {
  if (!request.ggufUrl) throw new Error('wllama needs the GGUF of the same weights (DIR.gguf beside the folder, or --gguf FILE)');
  const loadStart = performance.now();
  const wllama = new Wllama({ default: new URL(wllamaWasmUrl, location.href).href }, { suppressNativeLog: true, logger: quiet });
  // Compat mode (browsers without JSPI or memory64) fetches another build from a CDN: never here.
  wllama.setCompat(null);
  const response = await fetch(request.ggufUrl);
  if (!response.ok) throw new Error(`${request.ggufUrl}: HTTP ${response.status}`);
  const gguf = await response.blob();
  await wllama.loadModel([gguf], {
    n_threads: request.threads,
    n_ctx: 4 * request.prompt.length + request.genTokens + 64, // the prompt's text can tokenize to more tokens than our ids (promptText)
    n_batch: 512, // the whole prompt in one batch, as llama.cpp's default
    n_parallel: 1,
    n_gpu_layers: 0, // CPU (WASM): the comparison is with the wasm device
  });
  const loadMs = performance.now() - loadStart;
  const chunks: { atMs: number; text: string }[] = [];
  let final: RawCompletionChunk | undefined;
  const bytesOf = await vocabBytes(request.source);
  const text = promptText(bytesOf, request.prompt);
  // wllama 3.8 fails ('invalid UTF-8 byte', then a RangeError in its worker) when the generated text is
  // not valid UTF-8, which random weights produce: only tokens of ASCII bytes may be generated.
  const nonAscii = [...bytesOf].filter(([, bytes]) => bytes.some((b) => b >= 0x80)).map(([id]) => [id, false]);
  const start = performance.now();
  await wllama.createCompletion({
    prompt: text,
    max_tokens: request.genTokens,
    temperature: 0, // greedy (llama-server reads `temperature`, not the typed `temp`)
    ignore_eos: true,
    logit_bias: nonAscii, // llama-server's form: [id, false] bans the id
    cache_prompt: false,
    stream: true,
    onData: (chunk: RawCompletionChunk) => {
      chunks.push({ atMs: performance.now() - start, text: chunk.choices[0]?.text ?? '' });
      final = chunk;
    },
  } as unknown as Parameters<Wllama['createCompletion']>[0] & { stream: true; onData: (c: RawCompletionChunk) => void });
  const timings = final?.timings;
  if (!timings) throw new Error('wllama returned no timings');
  // One chunk per token, then a last one with the finish reason; a token whose bytes end mid-character
  // has no chunk of its own, so then the times are spread evenly over the span.
  const tokenTimes = chunks.slice(0, -1).map((c) => c.atMs);
  const n = timings.predicted_n;
  const evenly = tokenTimes.length !== n;
  const tokenTimesMs = evenly ? Array.from({ length: n }, (_, i) => tokenTimes[0]! + (n > 1 ? ((tokenTimes.at(-1)! - tokenTimes[0]!) * i) / (n - 1) : 0)) : tokenTimes;
  const notes = [
    `wllama (llama.cpp ${Wllama.getLibllamaVersion()}), ${wllama.isMultithread() ? `multi-thread build, ${wllama.getNumThreads()} threads` : 'single-thread build'}, GGUF`,
    `prompt as text (wllama takes no token ids; non-ASCII pieces swapped for ASCII ones): ${timings.prompt_n} tokens for llama.cpp's tokenizer, from our ${request.prompt.length}; ids not comparable`,
    `EOS banned (ignore_eos); ${nonAscii.length} tokens with non-ASCII bytes banned too (wllama fails on invalid UTF-8 output): greedy over the rest`,
    ...(evenly ? [`${tokenTimes.length} chunks for ${n} tokens: times spread evenly`] : []),
  ];
  const threads = wllama.getNumThreads();
  await wllama.exit();
  return {
    runtime: 'wllama',
    device: 'wasm',
    engine: 'wllama',
    promptTokens: timings.prompt_n,
    loadMs,
    tokenTimesMs,
    tokenIds: [],
    wasmMemoryBytes: 0,
    gpuBufferPeakBytes: 0,
    threads,
    modelBytes: gguf.size,
    notes,
  };
}
