/**
 * Error codes of a service that is not there (refused, reset, unreachable, no answer), as
 * opposed to one refusing what was asked: what the CLI reports as unavailable and the ledger
 * writer waits out.
 */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
]);
