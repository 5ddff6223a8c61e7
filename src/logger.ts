import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { errorText, maskDeep, maskUrl, safeText, serializeError } from './secrets.js';

export type { Logger };

/** A level pino knows (LOG_LEVEL names one: src/config.ts checks it). */
export const isLogLevel = (level: string): boolean =>
  level === 'silent' || Object.hasOwn(pino.levels.values, level);

/** pino-pretty is a devDependency: a production install (`npm ci --omit=dev`) has none. */
function prettyInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * Fields that hold a credential wherever they appear (two levels deep: `{ password }`,
 * `{ options: { password } }`), and fields that hold a URL, which keep the URL with its
 * password masked.
 */
const SECRET_FIELDS = ['password', 'pass', 'passphrase', 'secret', 'token', 'authorization'];
const URL_FIELDS = ['url', 'amqpUrl', 'redisUrl', 'mysqlUrl', 'AMQP_URL', 'REDIS_URL', 'MYSQL_URL'];
const REDACT_PATHS = [...SECRET_FIELDS, ...URL_FIELDS].flatMap((f) => [f, `*.${f}`]);

/** The active span's ids, set by src/tracing while tracing is on. */
let traceFields: (() => Record<string, string> | undefined) | undefined;
const NO_FIELDS = {};

/**
 * Makes every line carry what `fields` returns (`trace_id`, `span_id` of the active span), or
 * nothing again with undefined. Tracing sets it; with tracing off a line costs one check more.
 */
export function logTraceFields(fields: typeof traceFields): void {
  traceFields = fields;
}

/**
 * What every logger of ours does to a line before it is written: credential fields redacted,
 * passwords in URLs masked in every string, errors reduced to what is safe to keep (see
 * `serializeError`) and cut to a readable length.
 */
export const safeLogOptions: LoggerOptions = {
  redact: {
    paths: [...REDACT_PATHS, '*.headers.authorization', '*.headers.cookie'],
    censor: (value: unknown, path: string[]) =>
      typeof value === 'string' && URL_FIELDS.includes(path[path.length - 1] ?? '')
        ? maskUrl(value)
        : '[redacted]',
  },
  serializers: { err: serializeError, error: serializeError },
  mixin: () => (traceFields === undefined ? NO_FIELDS : (traceFields() ?? NO_FIELDS)),
  formatters: { log: (fields) => maskDeep(fields) as Record<string, unknown> },
  // The message itself. Given an error and no message, pino would take the error's message
  // as it is: give it the safe one.
  hooks: {
    logMethod(args, method) {
      const [first, ...rest] = args as unknown[];
      const err = first instanceof Error ? first : (first as { err?: unknown } | null)?.err;
      const out =
        rest.length === 0 && err instanceof Error
          ? [first instanceof Error ? { err } : first, errorText(err)]
          : [first, ...rest.map((a) => (typeof a === 'string' ? safeText(a) : a))];
      if (typeof out[0] === 'string') out[0] = safeText(out[0]);
      method.apply(this, out as typeof args);
    },
  },
};

/**
 * JSON logs on stdout (one object a line: what log shippers read); pretty, on stderr, when stdout is a
 * terminal, NODE_ENV is not production and pino-pretty is installed. `destination` (e.g. 2 for
 * the CLI, whose stdout is for data) overrides both.
 */
export function createLogger(
  level: string,
  name = 'inventory',
  destination?: DestinationStream | number,
): Logger {
  if (destination !== undefined) {
    const stream = typeof destination === 'number' ? pino.destination(destination) : destination;
    return pino({ name, level, ...safeLogOptions }, stream);
  }
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production' && prettyInstalled();
  if (pretty)
    return pino({
      name,
      level,
      ...safeLogOptions,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } },
    });
  // In a worker thread, pino's asynchronous writes are not flushed when the thread exits, and
  // the last lines (why the worker stopped) would be lost: write them synchronously there.
  return pino(
    { name, level, ...safeLogOptions },
    pino.destination({ dest: 1, sync: !isMainThread }),
  );
}
