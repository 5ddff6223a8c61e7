/**
 * The Redis hash of a hold (a cart, an order or a transfer): the one TypeScript reader and
 * writer of its fields. The Lua side writes it in `saveHold` and reads it in `loadHold`
 * (src/lua/includes/holds.lua, whose opening comment lays out the same fields);
 * test/engine/hold-hash.test.ts checks that the two agree.
 *
 *   h:<pair>  units held          o:<pair>  units ordered      s:<pair>  units shipped
 *   b:<pair>  waiting, backorder  p:<pair>  waiting, pre-order (each only when not 0)
 *   st   state        exp  cart expiry (ms)      lk  the linked cart or order
 *   c    1 once paid  pay  payment id            from, to  a transfer's locations
 *   v    version (every change increments it)
 *   x:<shipmentId>  what that shipment moved (orders; src/domain/shipment-record.ts)
 *
 * `<pair>` is `<sku>\x1f<locationId>` (src/domain/pairs.ts).
 */

/** The prefix of a shipment's field: `x:<shipmentId>` (not a line: no pair after it). */
export const SHIPMENT_PREFIX = 'x:';

/** A line's figures, by name, and the prefix of its field in the hash. */
export const LINE_FIELDS = {
  held: 'h',
  ordered: 'o',
  shipped: 's',
  backordered: 'b',
  preordered: 'p',
} as const;

export type LineFigure = keyof typeof LINE_FIELDS;

const FIGURE_OF: Record<string, LineFigure> = Object.fromEntries(
  Object.entries(LINE_FIELDS).map(([figure, prefix]) => [prefix, figure as LineFigure]),
);

/** A hold's hash, decoded. */
export interface HoldHash {
  state?: string;
  expiresAt?: number;
  link?: string;
  paid: boolean;
  paymentId?: string;
  fromLocationId?: string;
  toLocationId?: string;
  version?: number;
  /** by pair: the figures that are not 0 */
  lines: Map<string, Partial<Record<LineFigure, number>>>;
  /** by shipment id: what it moved (orders; absent when none) */
  shipments?: Map<string, string>;
}

/** The figure and pair a line field names (`h:<pair>` → held at pair), else undefined. */
export function lineField(name: string): { figure: LineFigure; pair: string } | undefined {
  if (name.charAt(1) !== ':') return undefined;
  const figure = FIGURE_OF[name.charAt(0)];
  return figure ? { figure, pair: name.slice(2) } : undefined;
}

/** The pairs a hold has lines at, from its field names. */
export function holdPairs(fieldNames: Iterable<string>): string[] {
  const pairs = new Set<string>();
  for (const name of fieldNames) {
    const l = lineField(name);
    if (l) pairs.add(l.pair);
  }
  return [...pairs];
}

/** Reads a hold's hash (HGETALL). Fields it does not know are left out. */
export function decodeHoldHash(h: Record<string, string>): HoldHash {
  const lines = new Map<string, Partial<Record<LineFigure, number>>>();
  const shipments = new Map<string, string>();
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith(SHIPMENT_PREFIX)) {
      shipments.set(name.slice(SHIPMENT_PREFIX.length), value);
      continue;
    }
    const l = lineField(name);
    if (!l) continue;
    const line = lines.get(l.pair) ?? {};
    line[l.figure] = Number(value);
    lines.set(l.pair, line);
  }
  return {
    ...(h.st !== undefined ? { state: h.st } : {}),
    ...(h.exp !== undefined ? { expiresAt: Number(h.exp) } : {}),
    ...(h.lk !== undefined ? { link: h.lk } : {}),
    paid: h.c === '1',
    ...(h.pay !== undefined ? { paymentId: h.pay } : {}),
    ...(h.from !== undefined ? { fromLocationId: h.from } : {}),
    ...(h.to !== undefined ? { toLocationId: h.to } : {}),
    ...(h.v !== undefined ? { version: Number(h.v) } : {}),
    lines,
    ...(shipments.size ? { shipments } : {}),
  };
}

/**
 * The hash's fields and values, flat (HSET order: lines by pair, shipments, then st exp lk c
 * pay from to v).
 */
export function encodeHoldHash(h: HoldHash): string[] {
  const out: string[] = [];
  for (const [pair, line] of h.lines) {
    for (const [figure, prefix] of Object.entries(LINE_FIELDS)) {
      const n = line[figure as LineFigure];
      if (n) out.push(`${prefix}:${pair}`, String(n));
    }
  }
  for (const [id, text] of h.shipments ?? []) out.push(`${SHIPMENT_PREFIX}${id}`, text);
  if (h.state !== undefined) out.push('st', h.state);
  if (h.expiresAt !== undefined) out.push('exp', String(h.expiresAt));
  if (h.link !== undefined) out.push('lk', h.link);
  if (h.paid) out.push('c', '1');
  if (h.paymentId !== undefined) out.push('pay', h.paymentId);
  if (h.fromLocationId !== undefined) out.push('from', h.fromLocationId);
  if (h.toLocationId !== undefined) out.push('to', h.toLocationId);
  if (h.version !== undefined) out.push('v', String(h.version));
  return out;
}
