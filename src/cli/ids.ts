import { printableJson } from '../broker/printable.js';
import { idString } from '../domain/schemas.js';
import { EXIT } from './exit.js';
import { CliError } from '../errors/cli-error.js';

/**
 * A SKU, location or reference id from the command line, held to the rule the worker holds
 * events to (docs/events.md, Validation): an id the worker refuses names nothing it keeps, and
 * MySQL would read `"SKU "` as `SKU`'s rows, or write `SKU`'s. Checked in the action rather than
 * as a commander parser (as `--tenant` is): commander echoes a refused value as it is, and an id
 * refused for a bidi override would reorder the terminal; here it is printed escaped.
 */
export function cliId(what: string, value: string): string {
  const r = idString.safeParse(value);
  if (r.success) return r.data;
  const why = r.error.issues.map((i) => i.message).join('; ');
  throw new CliError(`${what} ${printableJson(value)} ${why}`, EXIT.usage);
}

/** `cliId` of an optional option: undefined stays undefined. */
export const cliIdOption = (what: string, value: string | undefined): string | undefined =>
  value === undefined ? undefined : cliId(what, value);
