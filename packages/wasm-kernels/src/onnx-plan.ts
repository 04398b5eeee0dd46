// Reads a decoder graph written in the onnxruntime-genai layout (what packages/convert writes) and
// plans what the WASM decoder needs: the shape, and where each weight's bytes are. Reads no weights.

import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { LocalmError } from '@localm/errors';

const { onnx } = onnxProto;

/** Where one initializer's bytes are: inside model.onnx, or a range of an external data file. */
export type TensorBytes =
  | { kind: 'inline'; bytes: Uint8Array }
  | { kind: 'external'; file: string; offset: number; length: number };

export interface TensorRef {
  name: string;
  dims: number[];
  dataType: number; // TensorProto.DataType: 1 float, 2 uint8
  bytes: TensorBytes;
}

/** A linear layer: fp32 MatMul B [k, n], or MatMulNBits B [n, blocks, 16] with fp32 scales. */
export interface LinearRef {
  n: number;
  k: number;
  isQ4: boolean;
  weight: TensorRef;
  scales?: TensorRef;
  bias?: TensorRef; // [n], added after the product (Qwen 2's q/k/v)
}

export interface LayerRefs {
  attnNorm: TensorRef;
  ffnNorm: TensorRef;
  q: LinearRef;
  k: LinearRef;
  v: LinearRef;
  o: LinearRef;
  gate: LinearRef;
  up: LinearRef;
  down: LinearRef;
}

export interface DecoderPlan {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number; // rows of the rotary tables
  ropeInterleaved: boolean;
  rmsNormEps: number;
  attentionScale: number;
  isQ4: boolean; // the blocks' linear layers; the LM head may differ
  embedding: TensorRef; // fp32 [vocab, hidden], or 4-bit codes [vocab, hidden / 2] when embeddingScales is set
  embeddingScales?: TensorRef; // GatherBlockQuantized's fp32 scales [vocab, hidden / 32]; zero point 8
  rotaryCos: TensorRef;
  rotarySin: TensorRef;
  finalNorm: TensorRef;
  lmHead: LinearRef;
  layers: LayerRefs[];
}

const FLOAT = 1;
const UINT8 = 2;
// Everything a converted Llama graph contains; anything else means a graph this decoder does not compute.
const KNOWN_OPS = new Set([
  'Gather', 'GatherBlockQuantized', 'SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization', 'MatMul', 'MatMulNBits',
  'GroupQueryAttention', 'RotaryEmbedding', 'Sigmoid', 'Mul', 'ReduceSum', 'Sub', 'Cast', 'Shape', 'Range', 'Add',
  'Unsqueeze',
]);

const unsupported = (what: string): LocalmError =>
  new LocalmError('unsupported_model', `wasm decoder: ${what} (it runs Llama-family graphs in the layout localm convert writes)`);

function attr(node: OnnxTypes.INodeProto, name: string): OnnxTypes.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

function intAttr(node: OnnxTypes.INodeProto, name: string, fallback?: number): number {
  const a = attr(node, name);
  if (a?.i !== undefined && a.i !== null) return Number(a.i);
  if (fallback !== undefined) return fallback;
  throw unsupported(`node ${node.name} has no attribute ${name}`);
}

function floatAttr(node: OnnxTypes.INodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.f !== undefined && a.f !== null ? a.f : fallback;
}

/**
 * Decodes `graph` (model.onnx bytes) and locates every weight the decoder needs.
 * Throws `corrupt_model` for bytes that are not an ONNX model, `unsupported_model` naming what is missing.
 */
export function planDecoder(graph: Uint8Array): DecoderPlan {
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(graph);
  } catch (cause) {
    throw new LocalmError('corrupt_model', `model.onnx is not a valid ONNX model: ${String(cause)}`, { cause });
  }
  const g = model.graph;
  if (!g) throw new LocalmError('corrupt_model', 'model.onnx has no graph');
  const nodes = new Map<string, OnnxTypes.INodeProto>();
  const strange = new Set<string>();
  for (const node of g.node ?? []) {
    nodes.set(node.name ?? '', node);
    if (!KNOWN_OPS.has(node.opType ?? '')) strange.add(`${node.domain || 'ai.onnx'}:${node.opType}`);
  }
  if (strange.size > 0) throw unsupported(`operators it does not compute: ${[...strange].join(', ')}`);
  const inits = new Map<string, OnnxTypes.ITensorProto>();
  for (const t of g.initializer ?? []) inits.set(t.name ?? '', t);

  const node = (name: string): OnnxTypes.INodeProto => {
    const found = nodes.get(name);
    if (!found) throw unsupported(`no node ${name}`);
    return found;
  };
  const tensor = (name: string | undefined | null, dataType: number, user: string): TensorRef => {
    const t = inits.get(name ?? '');
    if (!t) throw unsupported(`input ${name} of ${user} is not an initializer`);
    if (t.dataType !== dataType) throw unsupported(`initializer ${name} has data type ${t.dataType}, expected ${dataType}`);
    return { name: name!, dims: (t.dims ?? []).map(Number), dataType, bytes: tensorBytes(t) };
  };
  const linear = (prefix: string, canHaveBias = false): LinearRef => {
    const ref = product(prefix);
    const add = nodes.get(`${prefix}.Add`);
    if (!add) return ref;
    if (!canHaveBias) throw unsupported(`${prefix} has a bias (${add.name}); only q/k/v biases are computed`);
    const bias = tensor(add.input?.[1], FLOAT, add.name!);
    if (bias.dims.join() !== String(ref.n)) throw unsupported(`${bias.name} has dims [${bias.dims}], expected [${ref.n}]`);
    return { ...ref, bias };
  };
  const product = (prefix: string): LinearRef => {
    const plain = nodes.get(`${prefix}.MatMul`);
    if (plain) {
      const weight = tensor(plain.input?.[1], FLOAT, plain.name!);
      const [k, n] = weight.dims;
      if (weight.dims.length !== 2) throw unsupported(`${weight.name} is not a matrix`);
      return { n: n!, k: k!, isQ4: false, weight };
    }
    const nbits = node(`${prefix}.MatMulNBits`);
    const bits = intAttr(nbits, 'bits');
    const block = intAttr(nbits, 'block_size');
    if (bits !== 4 || block !== 32) throw unsupported(`${nbits.name} has bits ${bits}, block_size ${block}; only 4-bit blocks of 32 run`);
    if ((nbits.input?.[3] ?? '') !== '') throw unsupported(`${nbits.name} has explicit zero points; only the implicit 8 runs`);
    if ((nbits.input?.[5] ?? '') !== '') throw unsupported(`${nbits.name} has a bias`);
    const n = intAttr(nbits, 'N');
    const k = intAttr(nbits, 'K');
    const weight = tensor(nbits.input?.[1], UINT8, nbits.name!);
    const scales = tensor(nbits.input?.[2], FLOAT, nbits.name!);
    const blocks = Math.ceil(k / 32);
    if (weight.dims.join() !== [n, blocks, 16].join()) throw unsupported(`${weight.name} has dims [${weight.dims}], expected [${n}, ${blocks}, 16]`);
    return { n, k, isQ4: true, weight, scales };
  };

  const ids = g.input?.map((i) => i.name) ?? [];
  for (const want of ['input_ids', 'attention_mask']) {
    if (!ids.includes(want)) throw unsupported(`the graph has no input ${want}`);
  }
  const quantizedGather = nodes.get('model.embed_tokens.GatherBlockQuantized');
  let embedding: TensorRef;
  let embeddingScales: TensorRef | undefined;
  let vocabSize: number;
  let hiddenSize: number;
  if (quantizedGather) {
    const bits = intAttr(quantizedGather, 'bits');
    const block = intAttr(quantizedGather, 'block_size');
    if (bits !== 4 || block !== 32 || (quantizedGather.input?.[3] ?? '') !== '') {
      throw unsupported(`${quantizedGather.name} has bits ${bits}, block_size ${block}; only 4-bit blocks of 32 with the implicit zero point run`);
    }
    embedding = tensor(quantizedGather.input?.[0], UINT8, quantizedGather.name!);
    embeddingScales = tensor(quantizedGather.input?.[2], FLOAT, quantizedGather.name!);
    [vocabSize, hiddenSize] = [embedding.dims[0]!, embedding.dims[1]! * 2];
  } else {
    const gather = node('model.embed_tokens.Gather');
    embedding = tensor(gather.input?.[0], FLOAT, gather.name!);
    [vocabSize, hiddenSize] = embedding.dims as [number, number];
  }

  const attentions = [...nodes.values()].filter((n) => n.opType === 'GroupQueryAttention');
  const numLayers = attentions.length;
  if (numLayers === 0) throw unsupported('no GroupQueryAttention node');
  const gqa0 = node('model.layers.0.attn.GroupQueryAttention');
  const numHeads = intAttr(gqa0, 'num_heads');
  const numKvHeads = intAttr(gqa0, 'kv_num_heads');
  const isRotaryFused = intAttr(gqa0, 'do_rotary', 0) === 1;
  let ropeInterleaved: boolean;
  let cosName: string | null | undefined;
  let sinName: string | null | undefined;
  if (isRotaryFused) {
    ropeInterleaved = intAttr(gqa0, 'rotary_interleaved', 0) === 1;
    [cosName, sinName] = [gqa0.input?.[7], gqa0.input?.[8]];
  } else {
    const rot = nodes.get('model.layers.0.attn.q_rotary.RotaryEmbedding');
    if (!rot) throw unsupported('no rotary embedding: neither GroupQueryAttention do_rotary nor RotaryEmbedding nodes');
    ropeInterleaved = intAttr(rot, 'interleaved', 0) === 1;
    [cosName, sinName] = [rot.input?.[2], rot.input?.[3]];
  }
  const rotaryCos = tensor(cosName, FLOAT, 'rotary');
  const rotarySin = tensor(sinName, FLOAT, 'rotary');
  const [maxPositions, halfDim] = rotaryCos.dims as [number, number];
  const headDim = 2 * halfDim;
  const attentionScale = floatAttr(gqa0, 'scale', 1 / Math.sqrt(headDim));

  const norm0 = node('model.layers.0.input_layernorm.SimplifiedLayerNormalization');
  const rmsNormEps = floatAttr(norm0, 'epsilon', 1e-5);
  const skipNorm = (name: string): TensorRef => {
    const n = node(`${name}.SkipSimplifiedLayerNormalization`);
    return tensor(n.input?.[2], FLOAT, n.name!);
  };

  const layers: LayerRefs[] = [];
  for (let l = 0; l < numLayers; l++) {
    const p = `model.layers.${l}`;
    const gqa = node(`${p}.attn.GroupQueryAttention`);
    if (intAttr(gqa, 'num_heads') !== numHeads || intAttr(gqa, 'kv_num_heads') !== numKvHeads) {
      throw unsupported(`${gqa.name} has head counts unlike layer 0's`);
    }
    layers.push({
      attnNorm: l === 0 ? tensor(norm0.input?.[1], FLOAT, norm0.name!) : skipNorm(`${p}.input_layernorm`),
      ffnNorm: skipNorm(`${p}.post_attention_layernorm`),
      q: linear(`${p}.attn.q_proj`, true),
      k: linear(`${p}.attn.k_proj`, true),
      v: linear(`${p}.attn.v_proj`, true),
      o: linear(`${p}.attn.o_proj`),
      gate: linear(`${p}.mlp.gate_proj`),
      up: linear(`${p}.mlp.up_proj`),
      down: linear(`${p}.mlp.down_proj`),
    });
  }
  const first = layers[0]!;
  const intermediateSize = first.gate.n;
  const plan: DecoderPlan = {
    hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, vocabSize, maxPositions, ropeInterleaved,
    rmsNormEps, attentionScale, isQ4: first.q.isQ4, embedding, ...(embeddingScales ? { embeddingScales } : {}), rotaryCos, rotarySin,
    finalNorm: skipNorm('model.norm'), lmHead: linear('lm_head'), layers,
  };
  checkShapes(plan);
  return plan;
}

function checkShapes(p: DecoderPlan): void {
  const q = p.numHeads * p.headDim;
  const kv = p.numKvHeads * p.headDim;
  const h = p.hiddenSize;
  const ff = p.intermediateSize;
  if (p.numHeads % p.numKvHeads !== 0) throw unsupported(`num_heads ${p.numHeads} is not a multiple of kv_num_heads ${p.numKvHeads}`);
  p.layers.forEach((L, l) => {
    const want: [LinearRef, number, number, string][] = [
      [L.q, q, h, 'q_proj'], [L.k, kv, h, 'k_proj'], [L.v, kv, h, 'v_proj'], [L.o, h, q, 'o_proj'],
      [L.gate, ff, h, 'gate_proj'], [L.up, ff, h, 'up_proj'], [L.down, h, ff, 'down_proj'],
    ];
    for (const [ref, n, k, name] of want) {
      if (ref.n !== n || ref.k !== k) throw unsupported(`layer ${l} ${name} is [${ref.n}, ${ref.k}], expected [${n}, ${k}]`);
      if (ref.isQ4 !== p.isQ4) throw unsupported(`layer ${l} ${name} mixes fp32 and 4-bit linear layers`);
    }
  });
  if (p.lmHead.n !== p.vocabSize || p.lmHead.k !== h) throw unsupported(`lm_head is [${p.lmHead.n}, ${p.lmHead.k}], expected [${p.vocabSize}, ${h}]`);
}

function tensorBytes(t: OnnxTypes.ITensorProto): TensorBytes {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const entry = (key: string): string | undefined => t.externalData?.find((e) => e.key === key)?.value ?? undefined;
    const file = entry('location');
    const length = Number(entry('length'));
    if (file === undefined || !Number.isFinite(length)) {
      throw new LocalmError('corrupt_model', `initializer ${t.name} has external data without location or length`);
    }
    // Only files beside the graph: no parent folders, no absolute paths (onnxruntime refuses them too).
    if (file.startsWith('/') || file.startsWith('\\') || /^[a-z]:/i.test(file) || file.split(/[\\/]/).includes('..')) {
      throw new LocalmError('corrupt_model', `initializer ${t.name} points its external data outside the model folder: ${file}`);
    }
    return { kind: 'external', file, offset: Number(entry('offset') ?? 0), length };
  }
  if (t.rawData && t.rawData.length > 0) return { kind: 'inline', bytes: t.rawData };
  throw unsupported(`initializer ${t.name} stores its values in typed fields; only raw_data and external data are read`);
}
