/**
 * The worker, as run by `main.ts` in a thread with a deep stack. It starts the worker, stops it
 * when the process is asked to, and, after an error nothing handled, stops it without acking
 * anything still in flight and exits non-zero.
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { loadConfig, type Config } from './config.js';
import { ConfigError } from './errors/config-error.js';
import { errorText } from './secrets.js';
import { toError } from './errors/to-error.js';
import { EXIT_CODES, type FromWorkerThread, type ToWorkerThread } from './exit-codes.js';
import { createLogger } from './logger.js';
import { startWorker, type Worker } from './worker.js';

/** How long a crash may take to charge the deliveries in flight and hand them back. */
const CRASH_STOP_MS = 5_000;

/**
 * The configuration, checked here rather than in the main thread, which then loads neither zod
 * nor the schemas (13–16 MB of RSS, measured idle). When it is invalid, the main thread is told
 * why, prints it and exits (EXIT_CODES.config); this thread waits for that.
 */
function configOrReport(): Config | undefined {
  try {
    return loadConfig();
  } catch (e) {
    const message = e instanceof ConfigError ? e.message : errorText(e);
    parentPort?.postMessage({ type: 'config-error', message } satisfies FromWorkerThread);
    setInterval(() => undefined, 60_000);
    return undefined;
  }
}

const config = isMainThread ? undefined : configOrReport();
if (config && parentPort) {
  const port = parentPort;
  const logger = createLogger(config.LOG_LEVEL);
  let worker: Worker | undefined;
  let crashed = false;
  // Exit once the logger has written its last lines (why the worker stopped), or after a
  // second at most: a pretty-printing logger writes from a thread of its own.
  const exit = (code: number) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 1_000).unref();
    logger.flush(() => process.exit(code));
  };

  const crash = (err: Error, kind: string) => {
    if (crashed) {
      logger.fatal({ err, kind }, 'another unhandled error while stopping after a crash');
      return;
    }
    crashed = true;
    const inFlight = worker ? [...worker.processor.processingNow.values()] : [];
    logger.fatal(
      { err, kind, inFlight: inFlight.slice(0, 50), inFlightCount: inFlight.length },
      'unhandled error: stopping without acking the deliveries in flight',
    );
    void (worker ? worker.crash(CRASH_STOP_MS) : Promise.resolve()).finally(() =>
      exit(EXIT_CODES.crashed),
    );
  };
  process.on('uncaughtException', (err) => crash(err, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => crash(toError(reason), 'unhandledRejection'));

  port.on('message', (m: ToWorkerThread) => {
    if (m.type !== 'shutdown' || crashed) return;
    void (worker ? worker.close() : Promise.resolve({ drained: true })).then(({ drained }) =>
      exit(drained ? EXIT_CODES.ok : EXIT_CODES.notDrained),
    );
  });

  try {
    worker = await startWorker(config, logger);
  } catch (e) {
    logger.fatal({ err: toError(e) }, 'worker failed to start');
    exit(EXIT_CODES.startFailed);
  }
}
