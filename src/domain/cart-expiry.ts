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
    command: { op: 'releaseCart', mode: 'expire', cartId: d.cartId, expiresAt: d.expiresAt },
  };
}

/** Carts whose expiries fall in one such window of a tenant share one delayed job. */
export const EXPIRY_BUCKET_MS = 1000;

/** A bucket job: expire every cart of the tenant whose expiry is at or before `until`. */
export interface ExpiryBucketData {
  tenant: string;
  until: number;
}

/** The bucket a cart's expiry falls in: the end of its second. */
export function expiryBucketOf(expiresAt: number): number {
  return Math.ceil(expiresAt / EXPIRY_BUCKET_MS) * EXPIRY_BUCKET_MS;
}

/** The id of a bucket's BullMQ job: carts of one tenant and second share it. */
export function bucketJobId(b: ExpiryBucketData): string {
  // BullMQ job ids must not contain ':'; tenants may contain '.', '-', '_'.
  const h = createHash('sha1').update(b.tenant).digest('hex').slice(0, 20);
  return `due-${h}-${b.until}`;
}

/** The id of the job that expires this cart at this expiry (its bucket's job). */
export function expiryJobId(d: CartExpiryData): string {
  return bucketJobId({ tenant: d.tenant, until: expiryBucketOf(d.expiresAt) });
}
