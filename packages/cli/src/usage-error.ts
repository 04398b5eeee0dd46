// A mistake in the command line itself: printed with the usage text, exit status 2.

export class UsageError extends Error {
  override readonly name = 'UsageError';
}
