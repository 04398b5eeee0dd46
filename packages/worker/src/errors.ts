// Carries LocalmError (with its code) and AbortError across the worker boundary: comlink alone keeps
// only message, name and stack.

import { LocalmError, type ErrorCode } from '@localm/errors';
import { transferHandlers, type TransferHandler } from 'comlink/dist/esm/comlink.mjs';

/** An error as plain data. */
export interface SerializedError {
  name: string;
  message: string;
  code?: ErrorCode;
  details?: Record<string, unknown>;
  stack?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof LocalmError) {
    return { name: err.name, message: err.message, code: err.code, ...(err.details ? { details: { ...err.details } } : {}) };
  }
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: 'Error', message: String(err) };
}

export function deserializeError(data: SerializedError): Error {
  if (data.code !== undefined) return new LocalmError(data.code, data.message, data.details ? { details: data.details } : undefined);
  if (data.name === 'AbortError') return new DOMException(data.message, 'AbortError');
  const err = new Error(data.message);
  err.name = data.name;
  return err;
}

/** Replaces comlink's 'throw' handler so thrown errors keep their code on the other side. Idempotent. */
export function installErrorHandler(): void {
  const handler: TransferHandler<{ value: unknown }, SerializedError> = {
    canHandle: (value): value is { value: unknown } => typeof value === 'object' && value !== null && 'value' in value,
    serialize: (thrown) => [serializeError(thrown.value), []],
    deserialize: (data) => {
      throw deserializeError(data);
    },
  };
  transferHandlers.set('throw', handler as unknown as TransferHandler<unknown, unknown>);
}
