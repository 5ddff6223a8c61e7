import type { RedisClient } from '../engine/redis-client.js';
import type { Movement, NetworkChange } from '../domain/types.js';
import { pairOf, type TenantKeys } from '../engine/keys.js';
import { parsePayload } from '../engine/payload.js';
import { callScript } from '../engine/call-script.js';

/** What one outbox entry does, as far as the reconciliation needs to know. */
export interface PendingEntry {
  entryId: string;
  epoch: number;
  source: string;
  id: string;
  movements: Movement[];
  /** `kind \x1f id` of every hold whose snapshot the entry carries */
  holds: string[];
  /** `sku \x1f location` of every stock.configured change */
  configPairs: string[];
  /** `location \x1f id`, `binding \x1f sku \x1f location` and `kit \x1f sku` of every network change */
  network: string[];
}

export const holdRef = (kind: string, id: string): string => `${kind}\x1f${id}`;

export const locationRef = (locationId: string): string => `location\x1f${locationId}`;
export const bindingRef = (pair: string): string => `binding\x1f${pair}`;
export const kitRef = (sku: string): string => `kit\x1f${sku}`;

/** What a network change is about: one location, one binding, or one kit. */
const networkRef = (c: NetworkChange): string =>
  c.kind === 'location'
    ? locationRef(c.locationId)
    : c.kind === 'kit'
      ? kitRef(c.sku)
      : bindingRef(pairOf(c.sku, c.locationId));

/**
 * The outbox entries of one tenant, parsed once: each script call lists the ids of every
 * entry and returns only the payloads of entries newer than the newest one already held here.
 */
export class PendingOutbox {
  private entries = new Map<string, PendingEntry>();
  private newest = '0-0';
  /** entries whose payload cannot be parsed (the sweeper logs them; they stay in the outbox) */
  readonly unreadable = new Set<string>();

  get cursor(): string {
    return this.newest;
  }

  /** Applies one listing; returns false when it names an entry it cannot resolve. */
  update(ids: string[], fresh: string[]): boolean {
    for (let i = 0; i + 1 < fresh.length; i += 2) {
      const entryId = fresh[i]!;
      try {
        const p = parsePayload(fresh[i + 1]!);
        this.entries.set(entryId, {
          entryId,
          epoch: p.epoch,
          source: p.source,
          id: p.id,
          movements: p.movements,
          holds: p.holds.map((h) => holdRef(h.kind, h.id)),
          configPairs: p.config.map((c) => pairOf(c.sku, c.locationId)),
          network: (p.network ?? []).map((c) => networkRef(c)),
        });
      } catch {
        this.unreadable.add(entryId);
      }
    }
    const listed = new Set(ids);
    for (const id of this.entries.keys()) if (!listed.has(id)) this.entries.delete(id);
    for (const id of this.unreadable) if (!listed.has(id)) this.unreadable.delete(id);
    if (ids.length > 0) this.newest = ids[ids.length - 1]!;
    return ids.every((id) => this.entries.has(id) || this.unreadable.has(id));
  }

  reset(): void {
    this.entries.clear();
    this.unreadable.clear();
    this.newest = '0-0';
  }

  /** Entries applied under `epoch` (older epochs' effects left Redis with their epoch). */
  of(epoch: number): PendingEntry[] {
    return [...this.entries.values()].filter((e) => e.epoch === epoch);
  }
}

export interface HashesRead {
  /** the tenant's epoch; null when the tenant is not loaded */
  epoch: number | null;
  /** entries of the current epoch waiting in the outbox; null when too many to list */
  pending: PendingEntry[] | null;
  /** one per key asked for; null when the key is missing */
  hashes: (Record<string, string> | null)[];
}

function toRecord(
  flat: (string | null)[],
  fields: readonly string[],
): Record<string, string> | null {
  const out: Record<string, string> = {};
  let any = false;
  if (fields.length > 0) {
    fields.forEach((f, i) => {
      const v = flat[i];
      if (v !== null && v !== undefined) {
        out[f] = v;
        any = true;
      }
    });
  } else {
    for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
    any = flat.length > 0;
  }
  return any ? out : null;
}

/**
 * Reads hashes of the tenant and its pending outbox atomically (src/lua/readHashes-2+.lua):
 * the `fields` of each hash, or every field when none are named. A hash with none of the
 * fields reads as missing.
 */
export async function readHashes(
  redis: RedisClient,
  keys: TenantKeys,
  hashKeys: string[],
  outbox: PendingOutbox,
  maxOutboxEntries: number,
  fields: readonly string[] = [],
): Promise<HashesRead> {
  for (let attempt = 0; ; attempt++) {
    const reply = (await callScript(
      redis,
      'readHashes',
      [keys.meta, keys.outbox, ...hashKeys],
      [outbox.cursor, maxOutboxEntries, ...fields],
    )) as [string | null, number, string[] | null, string[], ...(string | null)[][]];
    const [epochRaw, , ids, fresh, ...flat] = reply;
    const epoch = epochRaw === null ? null : Number(epochRaw);
    let pending: PendingEntry[] | null = null;
    if (ids !== null) {
      if (!outbox.update(ids, fresh)) {
        // an entry older than the newest one held, never seen (the stream was recreated)
        outbox.reset();
        if (attempt === 0) continue;
        throw new Error(`outbox of tenant ${keys.tenant} lists entries it cannot return`);
      }
      pending = epoch === null ? [] : outbox.of(epoch);
    }
    return { epoch, pending, hashes: flat.map((h) => toRecord(h, fields)) };
  }
}
