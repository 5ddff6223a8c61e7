/** A dependency failed (Redis, MySQL, the broker) or a precondition may still arrive: retry. */
export class TransientError extends Error {
  override name = 'TransientError';
  constructor(
    message: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
