/**
 * Keeping credentials out of what the process prints: logs, error messages, stderr, `/readyz`
 * and dead letters. Every service URL may carry a password (`amqp://user:password@host`), and
 * the clients' errors, a config error or a crash report can repeat it.
 */

/** The most characters of one error message that go to a log, a response or a dead letter. */
export const MAX_ERROR_CHARS = 1000;
/** The most characters of a stack trace in a log line. */
export const MAX_STACK_CHARS = 4000;

export const MASK = '***';

/**
 * `scheme://user:password@` anywhere in a text. The password runs to the last `@` before the
 * path, query, fragment or a blank: an unencoded `@` in it does not stop the match early.
 */
const CREDENTIALS = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s:/?#@]*):[^\s/?#]*@/g;

/** The text with the password of every URL in it replaced by `***`. */
export function maskCredentials(text: string): string {
  return text.includes('@') ? text.replace(CREDENTIALS, `$1$2:${MASK}@`) : text;
}

/**
 * A value meant to be a URL, even one too malformed to parse (the case of a config error):
 * after `scheme://`, everything from the first `:` to the last `@` is masked (with the user
 * name, when the scheme has no `//`: `amqp:user:password@host` gives `amqp:***@host`).
 */
export function maskUrl(value: string): string {
  // a list of URLs (a cluster's nodes): each masked
  if (value.includes(',')) return value.split(',').map(maskUrl).join(',');
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(value)?.[0] ?? '';
  const colon = value.indexOf(':', scheme.length);
  if (colon < 0 || colon > at) return value;
  return `${value.slice(0, colon)}:${MASK}${value.slice(at)}`;
}

/** Cuts a text to `max` characters, saying how much was left out. */
export function truncate(text: string, max = MAX_ERROR_CHARS): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** What of a text may be printed: credentials masked, then cut (a cut never unmasks). */
export function safeText(text: string, max = MAX_ERROR_CHARS): string {
  return truncate(maskCredentials(text), max);
}

/** The message of anything thrown, safe to print. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return safeText(e.message);
  return safeText(typeof e === 'string' ? e : String(e));
}

/** Scalar fields of client errors worth keeping in a log (never `sql`, `bindings`, `command`). */
const ERROR_FIELDS = ['code', 'errno', 'syscall', 'address', 'port', 'sqlState'] as const;

/**
 * An error as a log line may carry it: name, message, stack, a few scalar fields and its
 * causes, each masked and cut. Everything else is left out on purpose: mysql2 and knex errors
 * carry the SQL with its values (`sql`), ioredis errors the command's arguments (`command.args`,
 * the password of a failed AUTH), and other clients their whole options.
 */
export function serializeError(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return safeText(value);
  if (!(value instanceof Error)) return maskDeep(value, depth);
  const out: Record<string, unknown> = { type: value.name, message: safeText(value.message) };
  if (typeof value.stack === 'string') out.stack = safeText(value.stack, MAX_STACK_CHARS);
  const fields = value as unknown as Record<string, unknown>;
  for (const k of ERROR_FIELDS) {
    const v = fields[k];
    if (typeof v === 'string') out[k] = safeText(v, 200);
    else if (typeof v === 'number') out[k] = v;
  }
  if (depth < 3) {
    if (value.cause !== undefined) out.cause = serializeError(value.cause, depth + 1);
    const errors = fields.errors;
    if (Array.isArray(errors))
      out.errors = errors.slice(0, 5).map((e) => serializeError(e, depth + 1));
  }
  return out;
}

/**
 * A log line's fields with every string masked and cut, and errors serialized as above,
 * down to a few levels (a log line has no business being deeper).
 */
export function maskDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return safeText(value, 4 * MAX_ERROR_CHARS);
  if (value instanceof Error) return serializeError(value, depth);
  if (value === null || typeof value !== 'object' || depth > 5) return value;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskDeep(v, depth + 1);
  return out;
}
