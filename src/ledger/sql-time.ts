/**
 * Times as MySQL DATETIME(3) in UTC. Dates are formatted here rather than passed as Date
 * objects so that multi-row statements do not depend on the driver's timezone handling.
 */

/** DATETIME(3) holds years 1000–9999 only. */
const MIN_MS = Date.UTC(1000, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const DAY_MS = 86_400_000;

const isoDateTime = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ');

// The mirror formats several times per event, nearly all of them on the same day: the date
// part is built once per day, the time of day by arithmetic (no Date, no ISO string).
let cachedDay = NaN;
let cachedDate = '';
const pad2 = (n: number) => (n < 10 ? '0' : '') + n;
const pad3 = (n: number) => (n < 10 ? '00' : n < 100 ? '0' : '') + n;

/** 'YYYY-MM-DD HH:MM:SS.mmm' (UTC) for epoch milliseconds. */
export function sqlDateTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < MIN_MS || ms > MAX_MS) return isoDateTime(ms);
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  if (day !== cachedDay) {
    cachedDate = isoDateTime(day).slice(0, 11);
    cachedDay = day;
  }
  let rest = ms - day;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  return `${cachedDate}${pad2(h)}:${pad2(m)}:${pad2(s)}.${pad3(rest - s * 1000)}`;
}

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
