// Decides whether a string is a prefix of compact JSON that a JSON schema accepts, and how to finish
// it in the fewest characters. The grammar is deliberately narrow so every run can end in budget:
// no whitespace, properties in schema order (all of them), strings without escapes, bounded lengths.

/** The subset of JSON Schema the constraint understands. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  enum?: readonly (string | number | boolean | null)[];
  const?: string | number | boolean | null;
}

/** Bounds applied where the schema gives none, so a run always ends. */
export const JSON_DEFAULT_BOUNDS = Object.freeze({ maxItems: 4, maxLength: 32, maxDigits: 6 });

type Result = { kind: 'done'; pos: number } | { kind: 'partial'; completion: string } | { kind: 'error' };
const ERROR: Result = { kind: 'error' };

/** 'invalid', or a valid prefix with the shortest completion ('' when it may end here). */
export type PrefixState = { valid: false } | { valid: true; complete: boolean; completion: string };

export function checkJsonPrefix(schema: JsonSchema, text: string): PrefixState {
  const r = value(schema, text, 0);
  if (r.kind === 'error') return { valid: false };
  if (r.kind === 'done') return r.pos === text.length ? { valid: true, complete: true, completion: '' } : { valid: false };
  return { valid: true, complete: false, completion: r.completion };
}

function value(schema: JsonSchema, s: string, pos: number): Result {
  const literals = schema.const !== undefined ? [schema.const] : schema.enum;
  if (literals) return oneOf(literals.map((v) => JSON.stringify(v)), s, pos);
  switch (schema.type) {
    case 'object':
      return object(schema, s, pos);
    case 'array':
      return array(schema, s, pos);
    case 'string':
      return string(schema, s, pos);
    case 'number':
    case 'integer':
      return number(schema.type === 'integer', s, pos);
    case 'boolean':
      return oneOf(['true', 'false'], s, pos);
    case 'null':
      return oneOf(['null'], s, pos);
    default:
      throw new TypeError(`unsupported schema type ${JSON.stringify(schema.type)}`);
  }
}

/** Matches one of several literal strings. */
function oneOf(options: readonly string[], s: string, pos: number): Result {
  const rest = s.slice(pos);
  let shortest: string | undefined;
  for (const option of options) {
    if (rest.startsWith(option)) return { kind: 'done', pos: pos + option.length };
    if (option.startsWith(rest)) {
      const completion = option.slice(rest.length);
      if (shortest === undefined || completion.length < shortest.length) shortest = completion;
    }
  }
  return shortest === undefined ? ERROR : { kind: 'partial', completion: shortest };
}

/** Matches `lit` at pos: done, partial (input ended inside it), or error. */
function literal(lit: string, s: string, pos: number): Result {
  return oneOf([lit], s, pos);
}

function object(schema: JsonSchema, s: string, pos: number): Result {
  const keys = Object.keys(schema.properties ?? {});
  let at = pos;
  let r = literal('{', s, at);
  for (let i = 0; i < keys.length; i++) {
    if (r.kind !== 'done') return continueWith(r, objectTail(schema, keys, i, true));
    const key = keys[i]!;
    r = literal(`${i > 0 ? ',' : ''}${JSON.stringify(key)}:`, s, r.pos);
    if (r.kind !== 'done') return continueWith(r, objectTail(schema, keys, i, false));
    at = r.pos;
    r = value(schema.properties![key]!, s, at);
    if (r.kind !== 'done') return continueWith(r, objectTail(schema, keys, i + 1, true));
  }
  if (r.kind !== 'done') return continueWith(r, '}');
  return literal('}', s, r.pos);
}

/** The shortest text that closes an object from property `from` on (its key first when `withKey`). */
function objectTail(schema: JsonSchema, keys: string[], from: number, withKey: boolean): string {
  let tail = '';
  for (let i = from; i < keys.length; i++) {
    if (withKey || i > from) tail += `${i > 0 ? ',' : ''}${JSON.stringify(keys[i]!)}:`;
    tail += shortest(schema.properties![keys[i]!]!);
  }
  return `${tail}}`;
}

function array(schema: JsonSchema, s: string, pos: number): Result {
  const items = schema.items ?? { type: 'null' };
  const minItems = schema.minItems ?? 0;
  const maxItems = Math.max(minItems, schema.maxItems ?? JSON_DEFAULT_BOUNDS.maxItems);
  let r = literal('[', s, pos);
  if (r.kind !== 'done') return continueWith(r, arrayTail(items, 0, minItems));
  let count = 0;
  for (;;) {
    const at = r.pos;
    if (at === s.length) return { kind: 'partial', completion: arrayTail(items, count, minItems, count > 0) };
    if (s[at] === ']' && count >= minItems) return { kind: 'done', pos: at + 1 };
    if (count >= maxItems) return ERROR;
    if (count > 0) {
      if (s[at] !== ',') return ERROR;
      if (at + 1 === s.length) return { kind: 'partial', completion: shortest(items) + arrayTail(items, count + 1, minItems, true) };
    }
    r = value(items, s, count > 0 ? at + 1 : at);
    count++;
    if (r.kind !== 'done') return continueWith(r, arrayTail(items, count, minItems, true));
  }
}

function arrayTail(items: JsonSchema, count: number, minItems: number, afterItem = false): string {
  let tail = '';
  for (let i = count; i < minItems; i++) tail += `${i > 0 || afterItem ? ',' : ''}${shortest(items)}`;
  return `${tail}]`;
}

function string(schema: JsonSchema, s: string, pos: number): Result {
  const maxLength = schema.maxLength ?? JSON_DEFAULT_BOUNDS.maxLength;
  const minLength = schema.minLength ?? 0;
  const r = literal('"', s, pos);
  if (r.kind !== 'done') return continueWith(r, `${'a'.repeat(minLength)}"`);
  let length = 0;
  for (let at = r.pos; at < s.length; at++) {
    const ch = s.charCodeAt(at);
    if (ch === 0x22) return length >= minLength ? { kind: 'done', pos: at + 1 } : ERROR;
    if (ch === 0x5c || ch < 0x20) return ERROR; // no escapes, no control characters
    if (ch >= 0xd800 && ch <= 0xdbff) continue; // a surrogate pair counts once
    if (++length > maxLength) return ERROR;
  }
  return { kind: 'partial', completion: `${'a'.repeat(Math.max(0, minLength - length))}"` };
}

function number(integer: boolean, s: string, pos: number): Result {
  const max = JSON_DEFAULT_BOUNDS.maxDigits;
  const pattern = integer ? /^-?(0|[1-9]\d*)/ : /^-?(0|[1-9]\d*)(\.\d*)?/;
  const m = pattern.exec(s.slice(pos));
  if (!m) return s.slice(pos) === '-' || pos === s.length ? { kind: 'partial', completion: s.slice(pos) === '-' ? '0' : '0' } : ERROR;
  const [text, whole, fraction] = m;
  if (whole!.length > max || (fraction !== undefined && fraction.length - 1 > max)) return ERROR;
  const end = pos + text.length;
  if (fraction === '.') return end === s.length ? { kind: 'partial', completion: '0' } : ERROR;
  // At the end of input a number may still grow; it can also end here.
  return end === s.length ? { kind: 'partial', completion: '' } : { kind: 'done', pos: end };
}

/** A partial result inside a child, with the parent's closing text appended to its completion. */
function continueWith(r: Result, parentTail: string): Result {
  return r.kind === 'partial' ? { kind: 'partial', completion: r.completion + parentTail } : r;
}

/** The shortest valid JSON text for a schema. */
export function shortest(schema: JsonSchema): string {
  const literals = schema.const !== undefined ? [schema.const] : schema.enum;
  if (literals) return literals.map((v) => JSON.stringify(v)).reduce((a, b) => (b.length < a.length ? b : a));
  switch (schema.type) {
    case 'object':
      return `{${objectTail(schema, Object.keys(schema.properties ?? {}), 0, true)}`;
    case 'array':
      return `[${arrayTail(schema.items ?? { type: 'null' }, 0, schema.minItems ?? 0)}`;
    case 'string':
      return `"${'a'.repeat(schema.minLength ?? 0)}"`;
    case 'number':
    case 'integer':
      return '0';
    case 'boolean':
      return 'true';
    case 'null':
      return 'null';
    default:
      throw new TypeError(`unsupported schema type ${JSON.stringify(schema.type)}`);
  }
}
