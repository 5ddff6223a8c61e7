/**
 * Generated events for the schema/worker agreement: each a valid example of its type with one or
 * two mutations (a field removed, retyped, out of range, a bad string, an unknown field, a
 * refinement broken), and the two verdicts: the checked-in JSON Schema's (ajv) and the worker's
 * (decode → parseEvent, the path every delivery takes before its Lua script).
 */
import type { ConsumeMessage } from 'amqplib';
import fc from 'fast-check';
import { decode } from '../../src/broker/decode.js';
import { CONSUMED_EXAMPLES } from '../../src/contract/examples.js';
import { parseEvent } from '../../src/domain/schemas.js';
import { PermanentError } from '../../src/errors/permanent-error.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** Strings the id rules refuse, and some they accept. */
const STRINGS: Json[] = [
  '',
  ' lead',
  'trail ',
  'trail\u00a0',
  '\u3000ideographic',
  'in side',
  'zero\u200bwidth',
  'bidi\u202eflip',
  'bom\ufeff',
  'lone\ud800',
  'lone\udc00end',
  'pair\ud83d\ude00',
  'ctl\u0007',
  'new\nline',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  '\ud83d\ude00'.repeat(64),
  '\ud83d\ude00'.repeat(65),
  'SELECT * FROM t; --',
  'us',
  ' us ',
  '   ',
  'US-CA',
  'us-ca1',
  'ıt',
  'deny',
  'preorder',
  'quarantine',
  '2027-03-01T00:00:00Z',
  '2027-02-30T00:00:00Z',
  '2027-03-01T00:00:00',
  '2027-03-01T00:00:00.1234567890123456789012345678901234567890123456789012Z',
];
const NUMBERS: Json[] = [0, -1, 1, 2, 1.5, -0.5, 1e9, 1e9 + 1, -1e9, -1e9 - 1, 1e6, 1e6 + 1, 1e21];
const OTHERS: Json[] = [null, true, false, [], {}, [{}], { sku: 'A', quantity: 1 }];
const VALUES = [...STRINGS, ...NUMBERS, ...OTHERS];

/** Every path into the event (objects' keys and arrays' items), the root excluded. */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...at, i], ...paths(x, [...at, i])]);
  if (v !== null && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) => [[...at, k], ...paths(x, [...at, k])]);
  return [];
}

const clone = <T extends Json>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function parentOf(root: Json, path: (string | number)[]): [Json, string | number] {
  let node = root;
  for (const p of path.slice(0, -1)) node = (node as Obj)[p as string]!;
  return [node, path[path.length - 1]!];
}

export type Mutation =
  | { kind: 'set'; pick: number; value: Json }
  | { kind: 'delete'; pick: number }
  | { kind: 'add'; pick: number; value: Json }
  | { kind: 'grow'; pick: number }
  | { kind: 'same-locations' }
  | { kind: 'zero-delta' }
  | { kind: 'place'; value: string }
  | { kind: 'kit-component'; self: boolean };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      pick: fc.nat(),
      value: fc.constantFrom(...VALUES),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      pick: fc.nat(),
      value: fc.constantFrom(...VALUES),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grow' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'same-locations' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'zero-delta' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('kit-component' as const), self: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('place' as const),
      value: fc.constantFrom(
        '   ',
        ' us ',
        'ca\t',
        `${'X'.repeat(64)} `,
        'X'.repeat(65),
        'ß'.repeat(33),
      ),
    }),
  },
);

/** Applies a mutation to a copy of `event`; `type` is never touched (it is the routing key). */
export function mutate(event: Obj, m: Mutation): Obj {
  const e = clone(event);
  const all = paths(e).filter((p) => p[0] !== 'type' && p[0] !== 'sampleNo');
  const pick = (n: number) => all[n % all.length]!;
  switch (m.kind) {
    case 'set': {
      const [parent, key] = parentOf(e, pick(m.pick));
      (parent as Obj)[key as string] = clone(m.value);
      break;
    }
    case 'delete': {
      const [parent, key] = parentOf(e, pick(m.pick));
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete (parent as Obj)[key as string];
      break;
    }
    case 'add': {
      const objects = [[], ...all].filter((p) => {
        const [parent, key] = p.length ? parentOf(e, p) : [{ x: e } as Obj, 'x'];
        const v = (parent as Obj)[key as string];
        return v !== null && typeof v === 'object' && !Array.isArray(v);
      });
      const p = objects[m.pick % objects.length]!;
      const target = (p.length ? (parentOf(e, p)[0] as Obj)[p[p.length - 1] as string] : e) as Obj;
      target[`extra${m.pick % 7}`] = clone(m.value);
      break;
    }
    case 'grow': {
      // an array past its 500 items
      const arrays = all.filter((p) =>
        Array.isArray((parentOf(e, p)[0] as Obj)[p[p.length - 1] as string]),
      );
      if (arrays.length === 0) break;
      const p = arrays[m.pick % arrays.length]!;
      const [parent, key] = parentOf(e, p);
      const arr = (parent as Obj)[key as string] as Json[];
      if (arr.length > 0)
        (parent as Obj)[key as string] = Array.from({ length: 501 }, (_, i) =>
          typeof arr[0] === 'string' ? `s${i}` : clone(arr[0]!),
        );
      break;
    }
    case 'same-locations': {
      const d = e.data as Obj | undefined;
      if (d && typeof d === 'object' && 'fromLocationId' in d) d.toLocationId = d.fromLocationId!;
      break;
    }
    case 'place': {
      // a destination's country, trimmed and upper-cased by the worker before its checks
      const d = e.data as Obj | undefined;
      if (d && typeof d === 'object' && 'shippingAddress' in d)
        d.shippingAddress = { country: m.value };
      break;
    }
    case 'kit-component': {
      // a kit's last component becomes the kit itself, or repeats its first one
      const d = e.data as Obj | undefined;
      const cs = d && typeof d === 'object' ? d.components : undefined;
      const last = Array.isArray(cs) ? cs[cs.length - 1] : undefined;
      if (Array.isArray(cs) && last && typeof last === 'object' && !Array.isArray(last))
        last.sku = m.self ? d!.sku! : ((cs[0] as Obj | undefined)?.sku ?? null);
      break;
    }
    case 'zero-delta': {
      const d = e.data as Obj | undefined;
      if (d && typeof d === 'object' && 'delta' in d) d.delta = 0;
      break;
    }
  }
  return e;
}

/** A valid event of `type`: its example, in an envelope with every attribute. */
export function validEvent(type: string, n: number, tenant = 'acme'): Obj {
  return {
    specversion: '1.0',
    id: `sample-${n}`,
    source: '/contract-test',
    type,
    time: '2026-11-23T10:15:00Z',
    tenant,
    datacontenttype: 'application/json',
    sampleNo: n,
    data: clone(CONSUMED_EXAMPLES[type] as Obj),
  };
}

export const CONSUMED_TYPES = Object.keys(CONSUMED_EXAMPLES);

/** What `decode` is told in these tests: the worker's defaults. */
export const DECODE_OPTIONS = { maxBytes: 256 * 1024, cartTtlMs: () => 3_600_000 };

/** A body as the broker would deliver it (routing key = type, message-id = the body's id). */
export function deliveryOf(body: Buffer, type: string): ConsumeMessage {
  const p = JSON.parse(body.toString()) as { id?: unknown };
  return {
    content: body,
    fields: {
      routingKey: type,
      exchange: 'commerce.events',
      deliveryTag: 1,
      redelivered: false,
      consumerTag: 'c',
    },
    properties: {
      contentType: 'application/cloudevents+json',
      messageId: typeof p.id === 'string' ? p.id : undefined,
      headers: {},
    },
  } as unknown as ConsumeMessage;
}

/** The worker's verdict on a body, as the broker would deliver it (routing key = type). */
export function workerVerdict(
  body: Buffer,
  type: string,
): { ok: true } | { ok: false; reason: string; message: string } {
  const msg = deliveryOf(body, type);
  try {
    const d = decode(msg, DECODE_OPTIONS);
    parseEvent(d.meta, d.command);
    return { ok: true };
  } catch (e) {
    if (e instanceof PermanentError) return { ok: false, reason: e.reason, message: e.message };
    throw e;
  }
}

/**
 * Rules the JSON Schemas do not express (docs/schemas/README.md, "What the schemas do not
 * say"): the name of the one an event breaks, where the worker refuses what the schema accepts.
 * Each is tested to be the only reason the two disagree.
 */
export function refinementBroken(e: Obj): string | undefined {
  const d = e.data as Obj | undefined;
  if (!d || typeof d !== 'object' || Array.isArray(d)) return undefined;
  if (
    (e.type === 'transfer.created' || e.type === 'transfer.shipped') &&
    typeof d.fromLocationId === 'string' &&
    d.fromLocationId === d.toLocationId
  )
    return 'transfer-locations-differ';
  const a = d.shippingAddress as Obj | undefined;
  if (e.type === 'order.placed' && a && typeof a === 'object') {
    for (const k of ['country', 'region'] as const) {
      const v = a[k];
      if (typeof v !== 'string') continue;
      // the schema checks 1–64 on the string as sent, the worker after trim and upper case
      const within = (x: string) => x.length >= 1 && x.length <= 64;
      if (within(v) !== within(v.trim().toUpperCase())) return 'place-trimmed-length';
    }
  }
  if (e.type === 'kit.defined' && Array.isArray(d.components)) {
    const skus = d.components
      .map((c) => (c && typeof c === 'object' && !Array.isArray(c) ? c.sku : undefined))
      .filter((x): x is string => typeof x === 'string');
    if (new Set(skus).size !== skus.length || skus.includes(d.sku as string))
      return 'kit-components-distinct';
  }
  return undefined;
}
