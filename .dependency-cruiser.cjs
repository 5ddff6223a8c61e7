/* global module */
/**
 * The layers of the code, as an executable rule (`npm run lint` runs it; docs/architecture.md,
 * "Layers", draws the same picture). From the bottom:
 *
 *   kernel     src/errors/, src/secrets.ts, src/tls.ts, src/amqp-address.ts, src/exit-codes.ts:
 *              import nothing of ours
 *   domain     src/domain/: the model, no I/O; imports only errors
 *   engine     src/engine/ (the Lua scripts), consumers/, src/config.ts, src/logger.ts;
 *              src/tracing/ (OpenTelemetry) above config and logger
 *   I/O        src/ledger/ and src/broker/ (neither imports the other); then src/reconcile/;
 *              then jobs/, src/http/, src/services.ts
 *   commands   src/cli/, src/worker.ts
 *   entries    src/main.ts, src/worker-thread.ts, src/cli.ts (nothing imports them)
 *   contract   src/contract/: generates docs/schemas/ and docs/asyncapi.yaml from the domain,
 *              the consumers and the fixed names; nothing of the worker imports it
 *
 * Nothing imports upward or in a circle. Tests may import anything.
 */
const OURS = '^(src|consumers|jobs|migrations)/';
const KERNEL = '^src/(errors/|secrets\\.ts$|tls\\.ts$|amqp-address\\.ts$|exit-codes\\.ts$)';
const ENTRIES = '^src/(main|worker-thread|cli)\\.ts$';

/** A rule: what `from` must not import. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });

module.exports = {
  forbidden: [
    forbid('no-circular', 'no import cycles', {}, { circular: true }),
    forbid(
      'kernel-imports-nothing',
      'errors, secrets, tls, AMQP addresses and exit codes import nothing of ours',
      { path: KERNEL },
      { path: OURS, pathNot: '^src/errors/' },
    ),
    forbid(
      'domain-imports-only-errors',
      'the domain is pure: it imports nothing of ours but the error classes',
      { path: '^src/domain/' },
      { path: OURS, pathNot: '^src/(domain|errors)/' },
    ),
    forbid(
      'consumers-import-only-the-domain',
      'a consumer turns an event into a command: schemas and types of the domain only',
      { path: '^consumers/' },
      { path: OURS, pathNot: '^(consumers|src/domain)/' },
    ),
    forbid(
      'engine-imports-domain-and-kernel',
      'the engine runs scripts: the domain and the kernel below it, nothing else',
      { path: '^src/engine/' },
      { path: OURS, pathNot: `^src/(engine|domain)/|${KERNEL}` },
    ),
    forbid(
      'config-and-logger-import-domain-and-kernel',
      'configuration and logging sit beside the engine',
      { path: '^src/(config|logger)\\.ts$' },
      { path: OURS, pathNot: `^src/domain/|${KERNEL}` },
    ),
    forbid(
      'tracing-imports-config-logger-domain-kernel',
      'tracing (OpenTelemetry) sits beside the configuration and the logger, which it reads',
      { path: '^src/tracing/' },
      { path: OURS, pathNot: `^src/(tracing|domain)/|^src/(config|logger)\\.ts$|${KERNEL}` },
    ),
    forbid(
      'ledger-and-broker-stay-below-their-users',
      'the ledger and the broker are used by the reconciliation, jobs, http, the CLI and the worker, not the reverse',
      { path: '^src/(ledger|broker)/' },
      {
        path: `^src/(reconcile|http|cli)/|^jobs/|^src/(worker|services)\\.ts$|${ENTRIES}`,
      },
    ),
    forbid(
      'ledger-and-broker-apart',
      'MySQL and RabbitMQ code do not import each other',
      { path: '^src/ledger/' },
      { path: '^src/broker/' },
    ),
    forbid(
      'broker-and-ledger-apart',
      'MySQL and RabbitMQ code do not import each other',
      { path: '^src/broker/' },
      { path: '^src/ledger/' },
    ),
    forbid(
      'reconcile-stays-below-jobs',
      'the nightly job runs the reconciliation; the reconciliation knows no job',
      { path: '^src/reconcile/' },
      { path: `^src/(http|cli)/|^jobs/|^src/(worker|services)\\.ts$|${ENTRIES}` },
    ),
    forbid(
      'jobs-http-services-stay-below-commands',
      'jobs, the HTTP endpoint and the service wiring are used by the CLI and the worker',
      { path: '^(jobs/|src/http/|src/services\\.ts$)' },
      { path: `^src/cli/|^src/worker\\.ts$|${ENTRIES}` },
    ),
    forbid(
      'jobs-and-http-apart',
      'jobs and the HTTP endpoint do not import each other',
      { path: '^jobs/' },
      { path: '^src/http/' },
    ),
    forbid(
      'http-and-jobs-apart',
      'jobs and the HTTP endpoint do not import each other',
      { path: '^src/http/' },
      { path: '^jobs/' },
    ),
    forbid(
      'commands-stay-below-entries',
      'the CLI commands and the worker are started by the entry points, never import them',
      { path: '^(src/cli/|src/worker\\.ts$)' },
      { path: ENTRIES },
    ),
    forbid(
      'entries-are-not-imported',
      'main.ts, worker-thread.ts and cli.ts are where a process starts',
      { path: OURS, pathNot: ENTRIES },
      { path: ENTRIES },
    ),
    forbid(
      'contract-reads-only-the-contract',
      'the generator of the contract files reads schemas, consumers and the fixed names only',
      { path: '^src/contract/' },
      {
        path: OURS,
        pathNot: `^(src/contract/|src/domain/|consumers/|src/broker/topology\\.ts$)|${KERNEL}`,
      },
    ),
    forbid(
      'nothing-imports-the-contract-generator',
      'the contract generator is a build tool: the worker does not depend on it',
      { path: OURS, pathNot: '^src/contract/' },
      { path: '^src/contract/' },
    ),
    forbid(
      'migrations-import-only-migrations',
      'a migration is frozen once it landed: it depends on nothing that changes',
      { path: '^migrations/' },
      { path: OURS, pathNot: '^migrations/' },
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
};
