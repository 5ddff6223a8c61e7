import type { z } from 'zod';
import type { Command } from '../src/domain/types.js';

/** What a consumer knows besides the event's data. */
export interface ConsumeContext {
  tenant: string;
  /** cart hold lifetime for this tenant, ms */
  cartTtlMs: number;
  /** how long a cart lasts at least once its checkout started, ms (CHECKOUT_TTL_SECONDS) */
  checkoutTtlMs: number;
  /** the event's CloudEvents `time` (else when it was decoded), epoch ms: for settings, the later wins */
  occurredAtMs?: number;
  /** the event's CloudEvents `time`, epoch ms, when it has one (not when it was received) */
  eventTimeMs?: number;
}

/**
 * One consumer per event type: parse the data, say which command (and so which Lua script)
 * applies it, and which references must see their events in delivery order.
 */
export interface Consumer<T = unknown> {
  type: string;
  data: z.ZodType<T>;
  command(data: T, ctx: ConsumeContext): Command;
  /** Ordering keys: events sharing a key are applied one at a time, in delivery order. */
  orderingKeys(data: T): string[];
}

export const defineConsumer = <T>(c: Consumer<T>): Consumer<T> => c;
