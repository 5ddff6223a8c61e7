/** The worker process's exit codes (sysexits where one fits). */
export const EXIT_CODES = {
  ok: 0,
  /** could not start (a service unreachable at start-up, migrations failed) */
  startFailed: 1,
  /** an error nothing handled: stopped without acking what was in flight */
  crashed: 70,
  /** asked to stop, but something could not finish within SHUTDOWN_TIMEOUT_MS */
  notDrained: 75,
  /** invalid configuration */
  config: 78,
  /** a second SIGTERM or SIGINT: exited without finishing */
  forced: 130,
} as const;

/** What the process's main thread tells the worker thread. */
export type ToWorkerThread = { type: 'shutdown' };

/** What the worker thread tells the main thread: the configuration is invalid (why). */
export type FromWorkerThread = { type: 'config-error'; message: string };
