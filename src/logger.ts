import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger };

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
 * JSON logs (one object a line: what log shippers read); pretty, on stderr, when stdout is a
 * terminal, NODE_ENV is not production and pino-pretty is installed.
 */
export function createLogger(level: string, name = 'inventory'): Logger {
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production' && prettyInstalled();
  return pino({
    name,
    level,
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } }
      : {}),
  });
}
