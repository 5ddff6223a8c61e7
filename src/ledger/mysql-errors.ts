import { UNREACHABLE_CODES } from '../errors/network-codes.js';

/**
 * Which MySQL failures are worth waiting out. A connection error means the server (or the
 * network to it) is away: the same statements will succeed once it is back. A lock conflict
 * means another transaction was in the way (a tenant being loaded holds its epoch row).
 */
const CONNECTION_CODES = new Set([
  ...UNREACHABLE_CODES,
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_GONE_ERROR',
  'ER_SERVER_LOST',
  'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED',
]);

const LOCK_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

const codeOf = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;

/** True when the server or the network to it is away (not when a statement is wrong). */
export function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = codeOf(e);
    if (code && CONNECTION_CODES.has(code)) return true;
    if (typeof e === 'object' && e !== null) {
      // mysql2 flags errors that broke the connection itself
      if ('fatal' in e && e.fatal === true) return true;
      const { name, message } = e as { name?: unknown; message?: unknown };
      // knex could not get a connection from the pool in time (the server never answered)
      if (name === 'KnexTimeoutError') return true;
      if (typeof message === 'string' && /connection is in closed state/i.test(message)) {
        return true;
      }
      e = (e as { cause?: unknown }).cause;
    } else {
      break;
    }
  }
  return false;
}

/** True for a deadlock or lock wait timeout: the transaction can simply run again. */
export function isLockConflict(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && LOCK_CODES.has(code);
}

export function isDuplicateKey(err: unknown): boolean {
  return codeOf(err) === 'ER_DUP_ENTRY';
}
