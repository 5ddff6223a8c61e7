/**
 * One Redis call for the events of a tenant that reach the engine together.
 *
 * The deliveries of one socket read reach `Engine.applyValid` within one turn of the event loop;
 * their script calls are queued here per tenant and sent once that turn's microtasks are done
 * (process.nextTick): consecutive calls of the scripts in BATCHED as one EVALSHA of the batch
 * script, which runs each event's script in the order queued, each as it would run alone (its
 * checks before its writes: all or nothing), and returns one reply per event. An event whose
 * reply asks the caller to do something first (NOT_READY, RETRY, STALE_NETWORK, EXPIRE_FIRST,
 * NODE_CHANGED) stops the batch there: the events after it are not run (NOT_RUN) and their
 * callers send them again. A script that raises an error fails its own event only (pcall): the
 * batch stops after it, as Redis would have left that event alone.
 *
 * Every key of one call is a key of the tenant (its hash tag), so a batch is one slot on a
 * Redis Cluster too.
 */
import type { RedisClient } from './redis-client.js';
import { SCRIPT_VERSION, type ScriptSpec } from './lua-scripts.js';

/** The scripts of the hot path that may share a call; the others are always sent alone. */
const BATCHED = [
  'reserveCart',
  'releaseCart',
  'placeOrder',
  'commitOrder',
  'releaseOrder',
  'fulfilShipment',
  'returnStock',
] as const;

/** Each batched script's place in BATCHED. */
const BATCH_INDEX = new Map<string, number>(BATCHED.map((name, i) => [name, i]));

/** The command the batch script is registered as. */
const BATCH_COMMAND = `inv${SCRIPT_VERSION}_batch`;

/** Reply of an event of a batch that stopped before it: send it again. Never sent by Redis. */
export const NOT_RUN = -7;
/** Reply of an event whose script raised an error in a batch: `{ -8, message }`. */
const SCRIPT_ERROR = -8;

/** Most keys one batch passes (events over it go in the next batch). */
const MAX_BATCH_KEYS = 5000;

/**
 * The batch script: each batched script's body becomes a function of (KEYS, ARGV, BATCH), its
 * includes inside it as when it runs alone, so it runs exactly as its own EVALSHA would, but for
 * what it reads of the tenant once per batch through BATCH (see begin in includes/base.lua): the
 * tenant's meta, read by the first event, and the events' de-duplication markers, read in one
 * MGET before the first event runs (an event whose marker an earlier event of the batch also has
 * reads its own, which that event may have set); and, between consecutive events of
 * reserveCart's fast path, the figures of the stock hashes they read and wrote (BATCH.stock),
 * whose writes of those figures and of the carts' expiries are made once, when the run ends
 * (BATCH.flush): in a flash sale's batch, one HSET and one ZADD instead of one per event.
 *   KEYS   the keys of the batch's events, each once (the events of a tenant's window share its
 *          meta, outbox and most stock keys: a flash sale's batch names each of those once)
 *   ARGV   n, then per event: the index of its script in BATCHED, its keys (keyRefs: their places
 *          in KEYS, in the order its script takes them; its marker second), its ARGV[1]
 *   reply  one reply per event run, in order; it stops after the first that is not APPLIED (1),
 *          DUPLICATE (0) or NOT_YET (-3), and after a script error ({ -8, message })
 */
function batchLua(specs: ReadonlyMap<string, ScriptSpec>): string {
  const fns = BATCHED.map((name, i) => {
    const spec = specs.get(name);
    if (!spec) throw new Error(`no Lua script named ${name}`);
    return `local function run${i + 1}(KEYS, ARGV, BATCH)\n${spec.body}\nend`;
  });
  return `${fns.join('\n')}
local RUN = { ${BATCHED.map((_, i) => `run${i + 1}`).join(', ')} }
local KEEPS_STOCK = run${BATCHED.indexOf('reserveCart') + 1}
local n = tonumber(ARGV[1])
local byte = string.byte
-- an event's keys from its key references: two characters per key, its place in KEYS in base
-- 128 (see keyRefs)
local function keysOf(refs)
  local keys, x = {}, 0
  for y = 1, #refs, 2 do
    local hi, lo = byte(refs, y, y + 1)
    x = x + 1
    keys[x] = KEYS[hi * 128 + lo]
  end
  return keys
end
-- every event's keys; its marker (its second key) read with the others' at once, nil for a
-- repeated one
local eventKeys, markers, first = {}, {}, {}
for i = 1, n do
  local keys = keysOf(ARGV[3 * i])
  eventKeys[i] = keys
  local m = keys[2]
  markers[i] = m
  if first[m] == nil then first[m] = i end
end
local marks = redis.call('MGET', unpack(markers))
local batch = {}
-- Writes of reserveCart's fast path held back while only it runs (a flash sale's batch is one
-- long run): its stock hashes' \`reserved\`, each written once with the figure the run left
-- in batch.stock, and the carts' expiries, one ZADD per expiry set with every cart in the order
-- queued (a cart named twice keeps its last). flush makes them before any other script runs,
-- before reserveCart takes its generic path, and when the batch ends however it ends: nothing
-- reads them in between, and a script's writes are all made by the time the call returns. (A
-- flush outside an event's pcall fails only on an expiry set of the wrong type: then the whole
-- call fails, and each of its events, tried again, is found a duplicate or applied then.)
local held, nheld, expiries, nexp = {}, 0, {}, 0
function batch.deferStock(key)
  if not held[key] then held[key] = true; nheld = nheld + 1; held[nheld] = key end
end
function batch.deferExpiry(key, score, member)
  local z = expiries[key]
  if not z then z = {}; expiries[key] = z; nexp = nexp + 1; expiries[nexp] = key end
  z[#z + 1] = score
  z[#z + 1] = member
end
function batch.flush()
  local kept = batch.stock
  batch.stock = nil
  if nheld + nexp == 0 then return end
  for k = 1, nheld do
    local key = held[k]
    redis.call('HSET', key, 'reserved', kept[key][2])
  end
  for k = 1, nexp do
    local key = expiries[k]
    redis.call('ZADD', key, unpack(expiries[key]))
  end
  held, nheld, expiries, nexp = {}, 0, {}, 0
end
local out, j = {}, 2
for i = 1, n do
  local fn = RUN[tonumber(ARGV[j])]
  if first[markers[i]] == i then batch.marker = marks[i] else batch.marker = nil end
  -- stock figures kept, and writes held back, by reserveCart's fast path: only while no other
  -- script runs
  if fn ~= KEEPS_STOCK then batch.flush() end
  local ok, r = pcall(fn, eventKeys[i], { ARGV[j + 2] }, batch)
  j = j + 3
  if not ok then
    out[i] = { ${SCRIPT_ERROR}, type(r) == 'table' and tostring(r.err) or tostring(r) }
    break
  end
  out[i] = r
  local c = r[1]
  if c ~= 1 and c ~= 0 and c ~= -3 then break end
end
batch.flush()
return out
`;
}

/**
 * An event's keys as the batch script reads them: for each key, its place in the batch's KEYS
 * (1-based; a key not in `places` yet is added), written as two characters, the place's base-128
 * digits. Characters below 128 are one byte each in UTF-8, as ioredis sends them; a place is at
 * most MAX_BATCH_KEYS (a batch of two events or more has at most that many keys), below 128².
 */
export function keyRefs(keys: readonly string[], places: Map<string, number>): string {
  let refs = '';
  for (const key of keys) {
    let at = places.get(key);
    if (at === undefined) places.set(key, (at = places.size + 1));
    refs += String.fromCharCode(at >> 7, at & 127);
  }
  return refs;
}

interface Queued {
  index: number;
  keys: string[];
  argv: string;
  /** the call as its own EVALSHA, for a call with no other of its tenant to share with */
  alone: () => Promise<unknown[]>;
  resolve: (reply: unknown[]) => void;
  reject: (e: unknown) => void;
}

type Send = (...args: (string | number)[]) => Promise<unknown>;

/** Queues script calls per tenant and sends each tenant's as few calls as it can. */
export class ScriptBatcher {
  private queues = new Map<string, Queued[]>();
  private scheduled = false;
  private readonly batch: Send;
  /** batch calls sent, the events they carried, and those not run (sent again) */
  readonly sent = { calls: 0, events: 0, notRun: 0 };

  /** Registers the batch script on the client; `maxEvents`: most events in one batch. */
  constructor(
    redis: RedisClient,
    specs: ReadonlyMap<string, ScriptSpec>,
    private readonly maxEvents: number,
  ) {
    redis.defineCommand(BATCH_COMMAND, { lua: batchLua(specs) });
    this.batch = (redis as unknown as Record<string, Send>)[BATCH_COMMAND]!.bind(redis);
  }

  /**
   * Queues one call of the script `name`; resolves with its reply (NOT_RUN: send it again). A
   * script not in BATCHED, or a call that has no other of its tenant to go with, is sent by
   * `alone`.
   */
  call(
    tenant: string,
    name: string,
    keys: string[],
    argv: string,
    alone: () => Promise<unknown[]>,
  ): Promise<unknown[]> {
    const index = BATCH_INDEX.get(name);
    if (index === undefined) return alone();
    return new Promise<unknown[]>((resolve, reject) => {
      let q = this.queues.get(tenant);
      if (!q) this.queues.set(tenant, (q = []));
      q.push({ index, keys, argv, alone, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queues = this.queues;
    this.queues = new Map();
    for (const q of queues.values()) {
      for (let i = 0; i < q.length;) {
        const group: Queued[] = [];
        let keys = 0;
        while (
          i < q.length &&
          group.length < this.maxEvents &&
          (group.length === 0 || keys + q[i]!.keys.length <= MAX_BATCH_KEYS)
        ) {
          keys += q[i]!.keys.length;
          group.push(q[i++]!);
        }
        if (group.length === 1) group[0]!.alone().then(group[0]!.resolve, group[0]!.reject);
        else this.send(group);
      }
    }
  }

  private send(group: Queued[]): void {
    // each key once, in the order the events first name it
    const places = new Map<string, number>();
    const refs: string[] = [];
    for (const e of group) refs.push(keyRefs(e.keys, places));
    const args: (string | number)[] = [places.size, ...places.keys(), group.length];
    this.sent.calls++;
    this.sent.events += group.length;
    for (let i = 0; i < group.length; i++) {
      const e = group[i]!;
      args.push(e.index + 1, refs[i]!, e.argv);
    }
    this.batch(...args).then(
      (reply) => {
        const replies = reply as unknown[][];
        for (let i = 0; i < group.length; i++) {
          const r = replies[i];
          if (r === undefined) {
            this.sent.notRun++;
            group[i]!.resolve([NOT_RUN]);
          } else if (r[0] === SCRIPT_ERROR) group[i]!.reject(new Error(String(r[1])));
          else group[i]!.resolve(r);
        }
      },
      (e: unknown) => {
        for (const q of group) q.reject(e);
      },
    );
  }
}
