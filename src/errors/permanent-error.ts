import type { DeadLetterReason } from './reasons.js';

/** The event can never be applied as it is (malformed, invalid, unknown type): dead-letter it. */
export class PermanentError extends Error {
  override name = 'PermanentError';
  constructor(
    message: string,
    readonly reason: DeadLetterReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
