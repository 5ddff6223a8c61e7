import { InvalidArgumentError } from 'commander';
import { tenantString } from '../domain/schemas.js';
import { CliError } from '../errors/cli-error.js';
import { UNREACHABLE_CODES } from '../errors/network-codes.js';

/** The CLI's exit statuses (listed in `inventory --help` and docs/operations.md). */
export const EXIT = {
  ok: 0,
  /** anything unexpected, or a command that could not finish */
  error: 1,
  /** bad arguments or options */
  usage: 2,
  /** `reconcile`: drift was found (repaired or not) */
  drift: 3,
  /** the SKU, reservation or dead letter asked for does not exist */
  notFound: 4,
  /** Redis, MySQL or RabbitMQ could not be reached (EX_UNAVAILABLE) */
  unavailable: 69,
  /** the environment is invalid (EX_CONFIG) */
  config: 78,
} as const;

export const EXIT_HELP = `
Exit status:
  0   success
  1   error (the message says what)
  2   bad arguments or options
  3   reconcile: drift was found (repaired or not)
  4   not found (SKU, reservation, dead letter)
  69  Redis, MySQL or RabbitMQ unreachable
  78  invalid environment (e.g. a malformed MYSQL_URL)`;

/** The exit status of an error thrown by a command. */
export function exitCodeOf(err: Error): number {
  if (err instanceof CliError) return err.exitCode;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return EXIT.unavailable;
  // AggregateError (several addresses tried), or a wrapped connect error
  const inner = (err as { errors?: unknown[] }).errors?.[0] ?? err.cause;
  return inner instanceof Error ? exitCodeOf(inner) : EXIT.error;
}

/** Option parser: a whole number at least `min` (commander reports a bad one as usage). */
export const intArg =
  (min = 1) =>
  (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min)
      throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
    return Number(v);
  };

/**
 * Option parser for `--tenant`: the rule an event's tenant follows, so that a command never
 * reads or writes under a name no event could have (commander reports a bad one as usage).
 */
export const tenantArg = (v: string): string => {
  const r = tenantString.safeParse(v);
  if (!r.success) throw new InvalidArgumentError(`a tenant ${r.error.issues[0]!.message}`);
  return v;
};

/** Gives up on a promise that takes longer than `ms`, as a service that does not answer. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CliError(`${what} did not answer within ${ms / 1000} s`, EXIT.unavailable)),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
