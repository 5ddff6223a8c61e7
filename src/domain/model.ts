/**
 * A pure TypeScript model of the reservation state machine the Lua scripts implement (the
 * scripts are the executable spec, docs/events.md the contract). No I/O: property tests
 * run random event sequences through it and through the engine and compare every step.
 */
import { parseEvent } from './schemas.js';
import {
  availableOf,
  DEFAULT_TENANT,
  ZERO_FIGURES,
  type Command,
  type EventMeta,
  type HoldKind,
  type StockRecord,
} from './types.js';
import { EventContext, type ModelPayload } from './model-context.js';
import { runCommand } from './model-ops.js';
import {
  cloneHold,
  liveHold,
  newTenantState,
  waitQueue,
  type HoldState,
  type TenantState,
} from './model-state.js';
import { pairOf, PAIR_SEP, sortedKeys, splitPair } from './pairs.js';

export type { ModelPayload } from './model-context.js';
export type { HoldLineState, HoldState } from './model-state.js';
export { compareBytes, pairOf, splitPair } from './pairs.js';

/** The engine's ApplyResult without the Redis stream ids. */
export type ModelResult =
  | { status: 'applied'; payload: ModelPayload }
  | { status: 'duplicate' }
  | { status: 'not-yet'; reason: string };

/** @default 30 days, as DEDUP_TTL_SECONDS */
export const DEFAULT_DEDUP_TTL_SECONDS = 30 * 24 * 60 * 60;

const ZERO: StockRecord = ZERO_FIGURES;

export class InventoryModel {
  private readonly tenants = new Map<string, TenantState>();

  /**
   * Applies one event's command at time `now` (epoch ms), exactly as `Engine.apply` would.
   * Throws PermanentError on invalid input, like the engine.
   * @param dedupTtlSeconds how long the event marker (and terminal holds) live
   */
  apply(
    meta: EventMeta,
    command: Command,
    now: number,
    dedupTtlSeconds = DEFAULT_DEDUP_TTL_SECONDS,
  ): ModelResult {
    const { meta: m, command: c } = parseEvent(meta, command);
    const state = this.stateOf(m.tenant, true);
    const seen = state.markers.get(`${m.source}${PAIR_SEP}${m.id}`);
    if (seen !== undefined && seen > now) return { status: 'duplicate' };
    const ctx = new EventContext(state, m, now, dedupTtlSeconds * 1000);
    const outcome = runCommand(ctx, c);
    if ('notYet' in outcome) return { status: 'not-yet', reason: outcome.notYet };
    return { status: 'applied', payload: ctx.finish(outcome) };
  }

  /** Figures and reorder settings of one SKU at one location (zeros when never touched). */
  figures(sku: string, locationId: string, tenant = DEFAULT_TENANT): StockRecord {
    return { ...(this.tenants.get(tenant)?.stocks.get(pairOf(sku, locationId)) ?? ZERO) };
  }

  /** `onHand - reserved - unavailable`: what a new cart can take. */
  available(sku: string, locationId: string, tenant = DEFAULT_TENANT): number {
    return availableOf(this.figures(sku, locationId, tenant));
  }

  /** A copy of a cart, order or transfer as it stands at `now` (undefined: no such hold). */
  hold(kind: HoldKind, id: string, tenant = DEFAULT_TENANT, now = 0): HoldState | undefined {
    const state = this.tenants.get(tenant);
    const h = state && liveHold(state, kind, id, now);
    return h ? cloneHold(h) : undefined;
  }

  /** Tenants that have seen at least one event. */
  tenantIds(): string[] {
    return sortedKeys(this.tenants);
  }

  /** Every pair with a stock record, sorted as the scripts sort them. */
  pairs(tenant = DEFAULT_TENANT): string[] {
    const state = this.tenants.get(tenant);
    return state ? sortedKeys(state.stocks) : [];
  }

  /**
   * Per SKU with a location in stock (available > 0), how many: what the scripts keep in the
   * tenant's `instock` hash for the SKU's total (`inventory.availability-changed` with no
   * location).
   */
  inStockCounts(tenant = DEFAULT_TENANT): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.pairs(tenant)) {
      const r = this.tenants.get(tenant)!.stocks.get(p)!;
      if (availableOf(r) > 0) {
        const sku = splitPair(p).sku;
        out[sku] = (out[sku] ?? 0) + 1;
      }
    }
    return out;
  }

  /** The wait queue of each pair with one (`wait:<pair>`): members first in line first. */
  waits(tenant = DEFAULT_TENANT): Record<string, [member: string, place: number][]> {
    const state = this.tenants.get(tenant);
    const out: Record<string, [string, number][]> = {};
    for (const p of state ? sortedKeys(state.waits) : []) {
      out[p] = waitQueue(state!, p).map((m) => [m, state!.waits.get(p)!.get(m)!]);
    }
    return out;
  }

  /** The tenant's state, read-only (for invariant checks); an empty state if never seen. */
  state(tenant = DEFAULT_TENANT): Readonly<TenantState> {
    return this.stateOf(tenant, false);
  }

  private stateOf(tenant: string, create: boolean): TenantState {
    let s = this.tenants.get(tenant);
    if (!s) {
      s = newTenantState();
      if (create) this.tenants.set(tenant, s);
    }
    return s;
  }
}
