/**
 * The scripts with a fast path (the common case written out, see reserveCart-5+.lua) against
 * their generic path on the same states. `checkFastPaths` wraps the engine's script commands on
 * its Redis client: each call of such a script is first run as a probe (the script with its
 * generic path replaced by `return { -99 }`: APPLIED only when the fast path took the event),
 * then, when the fast path took it, run as it is and again with the generic path forced (its
 * `local fast = plain and` made `local fast = false and`), each on the state the call found (its
 * keys DUMPed and RESTOREd). Both must leave every key passed to the script byte-identical
 * (DUMP, and whether it expires), write the same outbox payload and give the same reply; the
 * engine then gets the generic path's reply. Calls the fast path did not take run once, as
 * they are. Of the keys not passed to the script, only the tenant's `instock` counts are
 * restored and compared too: the fast paths touch no other (a fill, which does, is always the
 * generic path's), and the generic path forced runs only when the fast path took the event.
 */
import type { Redis } from 'ioredis';
import { readScripts } from '../../src/engine/lua-scripts.js';

/** The scripts with a fast path, each with exactly one `local fast = plain and`. */
export const FAST_PATH_SCRIPTS = [
  'reserveCart',
  'placeOrder',
  'commitOrder',
  'fulfilShipment',
] as const;

const SWITCH = 'local fast = plain and';
const GENERIC = 'if not fast then\n';
const NOT_FAST = -99;

export interface FastPathCounts {
  /** per script: calls the fast path took (and compared with the generic path) */
  fast: Record<string, number>;
  /** per script: calls it did not (the generic path, or an early reply) */
  other: Record<string, number>;
  /** what differed, one line each; the wrapped call also throws on the first */
  mismatches: string[];
  /**
   * Checking takes several commands per call (DUMP, the variants, RESTORE): only sound while
   * one call runs at a time. Set false while calls run concurrently: they then run as they are.
   */
  checking: boolean;
}

type Reply = (string | number | null)[];
type Run = (...a: unknown[]) => Promise<Reply>;

function once(text: string, what: string, name: string): void {
  const first = text.indexOf(what);
  if (first < 0 || text.indexOf(what, first + 1) >= 0)
    throw new Error(`${name}: expected exactly one "${what.trim()}"`);
}

/** The script's generic path forced, and the probe (generic path replaced by NOT_FAST). */
export function fastPathVariants(name: string): { generic: string; probe: string } {
  const spec = readScripts().find((s) => s.name === name);
  if (!spec) throw new Error(`no script ${name}`);
  once(spec.lua, SWITCH, name);
  once(spec.lua, GENERIC, name);
  return {
    generic: spec.lua.replace(SWITCH, 'local fast = false and'),
    probe: spec.lua.replace(GENERIC, `${GENERIC}  do return { ${NOT_FAST} } end\n`),
  };
}

async function dumpKeys(redis: Redis, keys: string[]): Promise<[string, Buffer | null][]> {
  const p = redis.pipeline();
  for (const k of keys) p.dumpBuffer(k);
  const res = (await p.exec()) ?? [];
  return keys.map((k, i) => [k, (res[i]?.[1] as Buffer | null) ?? null]);
}

async function restoreKeys(redis: Redis, state: [string, Buffer | null][]): Promise<void> {
  const p = redis.pipeline();
  for (const [k, v] of state) {
    if (v) p.restore(k, 0, v, 'REPLACE');
    else p.del(k);
  }
  await p.exec();
}

/** Each key: its DUMP (hex) and whether it expires; the marker only by whether it is set. */
async function readState(redis: Redis, keys: string[], marker: string): Promise<string[]> {
  const out: string[] = [];
  for (const k of keys) {
    const ttl = await redis.pttl(k);
    const expiry = ttl === -2 ? 'absent' : ttl === -1 ? 'persistent' : 'expires';
    if (k === marker) out.push(`${k}: ${expiry}`);
    else out.push(`${k}: ${expiry} ${(await redis.dumpBuffer(k))?.toString('hex') ?? ''}`);
  }
  return out;
}

/** A readable form of a key's content, for a mismatch's message. */
async function readable(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  if (type === 'hash') return JSON.stringify(await redis.call('HGETALL', key));
  if (type === 'zset') return JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'));
  if (type === 'string') return JSON.stringify(await redis.get(key));
  return type;
}

/**
 * Wraps the fast-path scripts' commands on `redis` (after the Engine was made on it: it
 * defines them). Returns the counts, updated as calls go.
 */
export async function checkFastPaths(
  redis: Redis,
  names: readonly string[] = FAST_PATH_SCRIPTS,
): Promise<FastPathCounts> {
  const counts: FastPathCounts = { fast: {}, other: {}, mismatches: [], checking: true };
  const r = redis as unknown as Record<string, Run>;
  for (const spec of readScripts().filter((s) => names.includes(s.name))) {
    const real = r[spec.command];
    if (!real) throw new Error(`${spec.command} not defined on this client: make the Engine first`);
    const v = fastPathVariants(spec.name);
    const genericSha = (await redis.script('LOAD', v.generic)) as string;
    const probeSha = (await redis.script('LOAD', v.probe)) as string;
    counts.fast[spec.name] = 0;
    counts.other[spec.name] = 0;
    r[spec.command] = async (...args: unknown[]) => {
      if (!counts.checking) return real.apply(redis, args);
      const keys = (spec.variadic ? args.slice(1, -1) : args.slice(0, -1)).map(String);
      const argv = String(args[args.length - 1]);
      const [, marker, outbox] = keys as [string, string, string];
      // every key but meta (read only here) and the outbox (entries compared by payload), and
      // the tenant's instock counts, which the scripts reach from meta's name (includes/base)
      const instock = `${keys[0]!.slice(0, -'meta'.length)}instock`;
      const watched = [...keys.slice(1).filter((k) => k !== outbox), instock];
      const before = await dumpKeys(redis, watched);
      const evalsha = (sha: string) =>
        redis.evalsha(sha, keys.length, ...keys, argv) as Promise<Reply>;
      const probe = await evalsha(probeSha);
      if (probe[0] === 1) await redis.xdel(outbox, String(probe[1]));
      await restoreKeys(redis, before);
      if (probe[0] !== 1) {
        counts.other[spec.name]!++;
        return real.apply(redis, args);
      }
      counts.fast[spec.name]!++;
      const fast = await real.apply(redis, args);
      const fastState = await readState(redis, watched, marker);
      const fastEntry = await redis.xrange(outbox, String(fast[1]), String(fast[1]));
      const fastReadable = await Promise.all(watched.map((k) => readable(redis, k)));
      await redis.xdel(outbox, String(fast[1]));
      await restoreKeys(redis, before);
      const generic = await evalsha(genericSha);
      const genericState = await readState(redis, watched, marker);
      const genericEntry = await redis.xrange(outbox, String(generic[1]), String(generic[1]));
      const diffs: string[] = [];
      if (fast[0] !== generic[0] || fast[2] !== generic[2])
        diffs.push(`reply: fast ${JSON.stringify(fast)}\n  generic ${JSON.stringify(generic)}`);
      if (fastEntry[0]?.[1][1] !== fast[2] || genericEntry[0]?.[1][1] !== generic[2])
        diffs.push('outbox entry: not the reply payload');
      if (String(await redis.get(marker)) !== String(generic[1])) diffs.push('marker');
      for (const [i, k] of watched.entries()) {
        if (fastState[i] !== genericState[i])
          diffs.push(
            `${k}: fast ${fastReadable[i]}\n  generic ${await readable(redis, k)}\n  ` +
              `(${fastState[i]}\n   ${genericState[i]})`,
          );
      }
      if (diffs.length > 0) {
        const m = `${spec.name} ${argv}:\n${diffs.join('\n')}`;
        counts.mismatches.push(m);
        throw new Error(`fast path and generic path differ: ${m}`);
      }
      return generic;
    };
  }
  return counts;
}
