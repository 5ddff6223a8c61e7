import { createHash } from 'node:crypto';
import type { Command, EventMeta } from './types.js';

/** The source of the events cart expiry applies (with the expiry job's id as event id). */
export const CART_EXPIRY_SOURCE = '/inventory-worker/cart-expiry';

export interface CartExpiryData {
  tenant: string;
  cartId: string;
  /** the expiry this job was scheduled for; a cart refreshed since has another one */
  expiresAt: number;
}

/**
 * The id of the expiry of one cart at one expiry: the BullMQ job id, and the event id of the
 * expiry whoever applies it (the job, or a reservation that found the cart past its expiry),
 * so whichever comes second is a duplicate.
 */
export function cartExpiryId(d: CartExpiryData): string {
  // BullMQ job ids must not contain ':'; cart ids may contain anything printable.
  const h = createHash('sha1').update(`${d.tenant}\x1f${d.cartId}`).digest('hex').slice(0, 20);
  return `cart-${h}-${d.expiresAt}`;
}

/** The event that expires the cart: what the expiry job applies. */
export function cartExpiryEvent(
  d: CartExpiryData,
  id: string = cartExpiryId(d),
  occurredAt: Date = new Date(),
): { meta: EventMeta; command: Command } {
  return {
    meta: {
      tenant: d.tenant,
      source: CART_EXPIRY_SOURCE,
      id,
      type: 'cart.expired',
      occurredAt: occurredAt.toISOString(),
    },
    command: { op: 'cartExpire', cartId: d.cartId, expiresAt: d.expiresAt },
  };
}
