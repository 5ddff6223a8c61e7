/**
 * A pair is one SKU at one location, as the Redis keys name it (`<sku>\x1f<locationId>`), and
 * the order in which the scripts walk pairs. Shared by the model, the engine and the ledger.
 */

/** Separates SKU and location in a pair, as in the Redis keys (cannot occur in ids). */
export const PAIR_SEP = '\x1f';

export const pairOf = (sku: string, locationId: string): string => `${sku}${PAIR_SEP}${locationId}`;

export function splitPair(pair: string): { sku: string; locationId: string } {
  const i = pair.indexOf(PAIR_SEP);
  return { sku: pair.slice(0, i), locationId: pair.slice(i + 1) };
}

/**
 * Orders strings by their UTF-8 bytes, as `table.sort` does inside Redis (C locale): the
 * scripts walk pairs in this order, so movements come out in it. UTF-8 byte order is code
 * point order; UTF-16 code units agree except that surrogates (code points above U+FFFF)
 * must sort after U+E000–U+FFFF.
 */
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && x <= 0xdfff) x += 0x10000;
    if (y >= 0xd800 && y <= 0xdfff) y += 0x10000;
    return x - y;
  }
  return a.length - b.length;
}

export const sortedKeys = (m: ReadonlyMap<string, unknown>): string[] =>
  [...m.keys()].sort(compareBytes);
