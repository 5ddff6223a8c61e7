import { ConfigError, loadConfig } from './config.js';
import { toError } from './errors/toError.js';
import { createLogger } from './logger.js';
import { startWorker } from './worker.js';

let config;
try {
  config = loadConfig();
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : toError(e).message);
  process.exit(78); // EX_CONFIG
}
const logger = createLogger(config.LOG_LEVEL);

try {
  const worker = await startWorker(config, logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal }, 'shutting down (send again to force)');
    void worker.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
} catch (e) {
  logger.fatal({ err: toError(e) }, 'worker failed to start');
  process.exit(1);
}
