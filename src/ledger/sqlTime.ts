/**
 * Times as MySQL DATETIME(3) in UTC. Dates are formatted here rather than passed as Date
 * objects so that multi-row statements do not depend on the driver's timezone handling.
 */

/** 'YYYY-MM-DD HH:MM:SS.mmm' (UTC) for epoch milliseconds. */
export function sqlDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23).replace('T', ' ');
}

/** DATETIME(3) holds years 1000–9999 only. */
const MIN_MS = Date.UTC(1000, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The platform's ISO time as a DATETIME(3) literal, or null when it cannot be stored. */
export function sqlOccurredAt(iso: string): string | null {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || ms < MIN_MS || ms > MAX_MS) return null;
  return sqlDateTime(ms);
}

/** The Redis time (ms) at which a stream entry was added: the first part of its id. */
export function entryTimeMs(entryId: string): number {
  return Number(entryId.slice(0, entryId.indexOf('-')));
}
