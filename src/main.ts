/**
 * The worker's process: runs the worker in a thread of its own (which checks the configuration),
 * passes it SIGTERM and SIGINT, and exits with its exit code.
 *
 * Why a thread: amqplib decodes a message's header tables recursively, and a table nested a few
 * thousand levels deep (20 KB, well within a frame) overflows Node's default stack. amqplib then
 * closes the connection, the broker redelivers the message, and the worker stalls on it forever.
 * The thread gets a stack deep enough for any header table a frame can hold (see STACK_MB).
 */
import { Worker } from 'node:worker_threads';
import { toError } from './errors/to-error.js';
import { createLogger, isLogLevel } from './logger.js';
import { EXIT_CODES, type FromWorkerThread, type ToWorkerThread } from './exit-codes.js';

/**
 * The worker thread's stack, in MiB. A nesting level of an AMQP header costs at most ~300 bytes
 * of amqplib's decoding stack and takes 5 bytes on the wire: 32 MiB decodes any header table of
 * a frame up to 512 KiB (RabbitMQ's default frame_max is 128 KiB).
 */
const STACK_MB = 32;

// The thread checks the configuration (src/config.ts) and says if it is invalid: this thread
// loads neither zod nor the schemas, whose code and heap a second copy would keep for nothing
// (13–16 MB of RSS, measured idle). LOG_LEVEL is one of the thread's checks: an invalid one logs
// here at info.
const level = process.env.LOG_LEVEL ?? 'info';
const logger = createLogger(isLogLevel(level) ? level : 'info');

const thread = new Worker(threadEntry(), { resourceLimits: { stackSizeMb: STACK_MB } });
thread.on('message', (m: FromWorkerThread) => {
  if (m.type !== 'config-error') return;
  console.error(m.message);
  process.exit(EXIT_CODES.config);
});
thread.on('error', (err) => {
  // an error the thread could not handle itself: it has stopped
  logger.fatal({ err: toError(err) }, 'worker thread failed');
  process.exit(EXIT_CODES.crashed);
});
thread.on('exit', (code) => process.exit(code));

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (++signals > 1) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(EXIT_CODES.forced);
  }
  logger.info({ signal }, 'shutting down (send again to force)');
  thread.postMessage({ type: 'shutdown' } satisfies ToWorkerThread);
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

/**
 * The thread runs the same build as this file: the compiled `.js`, or, under tsx (`npm run`
 * scripts, the tests), the `.ts` source through tsx's API, since a worker thread does not
 * inherit tsx's loader.
 */
function threadEntry(): URL {
  const entry = new URL(
    import.meta.url.endsWith('.ts') ? './worker-thread.ts' : './worker-thread.js',
    import.meta.url,
  );
  if (entry.pathname.endsWith('.js')) return entry;
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const target = JSON.stringify(entry.href);
  const boot = `const { tsImport } = await import(${api}); await tsImport(${target}, ${target});`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}
