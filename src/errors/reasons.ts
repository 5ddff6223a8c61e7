/**
 * Why the worker dead-lettered a message: the word before the first `:` of its
 * `x-error-reason` header. Operators filter on it (`inventory dlq list` counts by it,
 * `dlq replay --reason` matches it), so it is one closed list, documented in
 * docs/operations.md ("Dead-letter reasons"). The rest of the header says what exactly.
 */
export const DEAD_LETTER_REASONS = {
  'too-large': 'the body is larger than MAX_MESSAGE_BYTES',
  malformed: 'the body is not UTF-8 or not JSON, or its content type is not JSON',
  invalid: 'the envelope or the data breaks the contract (docs/events.md)',
  'unknown-type': 'no consumer for the event type',
  'routing-mismatch': 'the routing key differs from the type',
  'unknown-tenant': 'the tenant is not in TENANTS',
  'unauthorised-tenant': "the tenant is not the publishing user's (TENANT_FROM_USER)",
  'too-much-work': "the event's script would touch more than MAX_EVENT_STOCK_KEYS stock keys",
  'crashed-worker': 'it was being processed at CRASH_REDELIVERY_LIMIT crashes of the worker',
  'gave-up': 'a failure that could pass did not, through every retry tier (the reason follows)',
} as const;

export type DeadLetterReason = keyof typeof DEAD_LETTER_REASONS;

/** `x-error-reason`: the reason code, then what a person can act on. */
export const reasonText = (reason: DeadLetterReason, detail: string): string =>
  `${reason}: ${detail}`;
