// The one error type every localm package throws. A leaf package so that tokenizer and backend can
// share it without knowing of each other.

/** The closed set of codes callers branch on. Never branch on the message text. */
export const ERROR_CODES = [
  'not_found',
  'checksum_mismatch',
  'corrupt_model',
  'unsupported_operator',
  'unsupported_model',
  'out_of_memory',
  'no_backend',
  'context_full',
  'invalid_argument',
  'disposed',
  'busy',
  'worker_crashed',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error with a stable `code`.
 * @example
 * try { await loadModel('/nope'); } catch (e) { if (isLocalmError(e, 'not_found')) showPicker(); }
 */
export class LocalmError extends Error {
  override readonly name = 'LocalmError';
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` is a LocalmError (with `code`, when given). */
export function isLocalmError(err: unknown, code?: ErrorCode): err is LocalmError {
  return err instanceof LocalmError && (code === undefined || err.code === code);
}
