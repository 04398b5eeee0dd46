// Runs a parsed chat template under limits, because templates arrive with downloaded model files:
// a bounded number of evaluation steps, a deadline, a bounded size for every string and list the
// template builds, and a `range()` that refuses to allocate past the step budget. @huggingface/jinja
// has no limits of its own (its `range(10**9)` allocates a billion-element array before the loop).

import * as jinja from '@huggingface/jinja';
import { LocalmError } from '@localm/errors';

/** Limits on one rendering. Defaults in DEFAULT_TEMPLATE_LIMITS. */
export interface TemplateLimits {
  maxSteps?: number; // expression and statement evaluations, loops' bodies included
  maxDepth?: number; // nested evaluations (macro recursion); the JS stack would overflow first
  maxOutputChars?: number; // the longest string (and list) any step may produce, the output included
  timeoutMs?: number; // wall clock for the whole rendering
}

export const DEFAULT_TEMPLATE_LIMITS: Readonly<Required<TemplateLimits>> = Object.freeze({
  maxSteps: 10_000_000,
  maxDepth: 400,
  maxOutputChars: 4_000_000,
  timeoutMs: 2_000,
});

// Jinja2's sandbox refuses ranges longer than this (jinja2.sandbox.MAX_RANGE), so templates that
// transformers can render never need more.
const MAX_RANGE = 100_000;

/** Thrown inside the interpreter; the caller turns it into a LocalmError. */
export class TemplateLimitExceeded extends Error {}

// A typed view of the parts of @huggingface/jinja used here: its .d.ts re-exports through
// extensionless paths that NodeNext cannot follow (as with @huggingface/tokenizers, hf-library.ts).
interface RuntimeValue {
  type: string;
  value: unknown;
}
interface Environment {
  set(name: string, value: unknown): unknown;
}
interface Interpreter {
  evaluate(statement: unknown, environment: Environment): RuntimeValue;
  evaluateBlock(statements: unknown[], environment: Environment): RuntimeValue;
  run(program: unknown): RuntimeValue;
}
/** A compiled template (@huggingface/jinja's Template). */
export interface CompiledTemplate {
  parsed: unknown;
}
const { Environment, Interpreter } = jinja as unknown as {
  Environment: new () => Environment;
  Interpreter: new (env: Environment) => Interpreter;
};

// The library's StringValue class (not exported): what an empty block evaluates to.
const StringValue = new Interpreter(new Environment()).evaluateBlock([], new Environment()).constructor as new (
  value: string,
) => RuntimeValue;

// @huggingface/jinja 0.5.11 throws BreakControl / ContinueControl out of the loop body and drops
// what the body had rendered before it in that iteration ("{{ x }}{% continue %}" renders nothing);
// Jinja2 keeps it. Caught here by class name (the classes are not exported).
function controlKind(error: unknown): 'break' | 'continue' | undefined {
  const name = error instanceof Error ? error.constructor.name : '';
  return name === 'BreakControl' ? 'break' : name === 'ContinueControl' ? 'continue' : undefined;
}

interface LoopControl extends Error {
  rendered?: string; // what the blocks it left had rendered, innermost last
}

class LimitedInterpreter extends Interpreter {
  readonly #limits: Required<TemplateLimits>;
  readonly #deadline: number;
  #steps = 0;
  #depth = 0;
  #loopOutput = 0; // characters rendered by loop bodies so far
  readonly #loopBodies: unknown[] = []; // the bodies of the for loops running, innermost last
  readonly #pendingBreaks = new Map<unknown, Error>(); // a loop body whose last iteration broke out

  #step(): void {
    this.#steps += 1;
    if (this.#steps > this.#limits.maxSteps) {
      throw new TemplateLimitExceeded(`more than ${this.#limits.maxSteps} evaluation steps`);
    }
    // Date.now() costs more than a step; every 1024 steps keeps the overshoot to microseconds.
    if ((this.#steps & 1023) === 0 && Date.now() > this.#deadline) {
      throw new TemplateLimitExceeded(`rendering took more than ${this.#limits.timeoutMs} ms`);
    }
  }

  // The library concatenates a loop's iterations before the loop's value reaches evaluate(), so the
  // size check there comes late; this counts what loop bodies render as they go (nested loops count
  // their inner output again, which only makes the bound stricter).
  #countLoopOutput(chars: number): void {
    this.#loopOutput += chars;
    if (this.#loopOutput > this.#limits.maxOutputChars) {
      throw new TemplateLimitExceeded(`loops rendered more than ${this.#limits.maxOutputChars} characters`);
    }
  }

  // A loop body is a block; counting blocks bounds loops whose bodies are empty.
  override evaluateBlock(statements: unknown[], environment: Environment): RuntimeValue {
    this.#step();
    const isLoopBody = statements === this.#loopBodies.at(-1);
    const pending = isLoopBody ? this.#pendingBreaks.get(statements) : undefined;
    if (pending !== undefined) throw pending; // the loop's own catch ends it
    let rendered = '';
    for (const statement of statements) {
      let value: RuntimeValue;
      try {
        value = this.evaluate(statement, environment);
      } catch (error) {
        const kind = controlKind(error);
        if (kind === undefined) throw error;
        const control = error as LoopControl;
        control.rendered = rendered + (control.rendered ?? '');
        if (!isLoopBody) throw control;
        // End this iteration normally with what it rendered; a break ends the loop at the next one.
        if (kind === 'break') this.#pendingBreaks.set(statements, control);
        this.#countLoopOutput(control.rendered.length);
        return new StringValue(control.rendered);
      }
      if (value.type !== 'NullValue' && value.type !== 'UndefinedValue') rendered += String(value);
    }
    if (isLoopBody) this.#countLoopOutput(rendered.length);
    return new StringValue(rendered);
  }

  constructor(env: Environment, limits: Required<TemplateLimits>) {
    super(env);
    this.#limits = limits;
    this.#deadline = Date.now() + limits.timeoutMs;
  }

  override evaluate(statement: unknown, environment: Environment): RuntimeValue {
    this.#step();
    if (this.#depth >= this.#limits.maxDepth) {
      throw new TemplateLimitExceeded(`more than ${this.#limits.maxDepth} nested evaluations`);
    }
    const body = (statement as { type?: string; body?: unknown } | undefined)?.type === 'For' ? (statement as { body: unknown }).body : undefined;
    if (body !== undefined) this.#loopBodies.push(body);
    this.#depth += 1;
    let result: RuntimeValue;
    try {
      result = super.evaluate(statement, environment);
    } finally {
      this.#depth -= 1;
      if (body !== undefined) {
        this.#loopBodies.pop();
        this.#pendingBreaks.delete(body);
      }
    }
    const value = result.value;
    const size = typeof value === 'string' ? value.length : Array.isArray(value) ? value.length : 0;
    if (size > this.#limits.maxOutputChars) {
      throw new TemplateLimitExceeded(`a value of ${size} characters or items (the limit is ${this.#limits.maxOutputChars})`);
    }
    return result;
  }
}

/**
 * Renders a compiled template with these variables inside the limits. Throws TemplateLimitExceeded,
 * or whatever a template function (raise_exception) or the interpreter throws.
 */
export function renderLimited(template: CompiledTemplate, items: Record<string, unknown>, limits: TemplateLimits = {}): string {
  const bounds = { ...DEFAULT_TEMPLATE_LIMITS, ...limits };
  const env = new Environment();
  // @huggingface/jinja's own globals (setupGlobals is not exported), with a bounded range().
  for (const [name, value] of [
    ['false', false],
    ['true', true],
    ['none', null],
    ['False', false],
    ['True', true],
    ['None', null],
  ] as const) {
    env.set(name, value);
  }
  env.set('range', (...args: unknown[]) => boundedRange(args, Math.min(bounds.maxSteps, MAX_RANGE)));
  for (const [key, value] of Object.entries(items)) env.set(key, value);
  const result = new LimitedInterpreter(env, bounds).run(template.parsed);
  return String(result.value);
}

// Python's range(stop) / range(start, stop[, step]) with integer arguments, refusing to build more
// than `maxItems` numbers.
function boundedRange(args: readonly unknown[], maxItems: number): number[] {
  const ints = args.map((a) => {
    if (typeof a !== 'number' || !Number.isSafeInteger(a)) throw new Error(`range() takes integers, got ${String(a)}`);
    return a;
  });
  const [start, stop, step] = ints.length === 1 ? [0, ints[0] ?? 0, 1] : [ints[0] ?? 0, ints[1] ?? 0, ints[2] ?? 1];
  if (step === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > maxItems) throw new TemplateLimitExceeded(`range() of ${count} numbers`);
  return Array.from({ length: count }, (_, i) => start + i * step);
}
