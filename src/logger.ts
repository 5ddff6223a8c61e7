import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs; pretty when run in a terminal. */
export function createLogger(level: string, name = 'inventory'): Logger {
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production';
  return pino({
    name,
    level,
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } }
      : {}),
  });
}
