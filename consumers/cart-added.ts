import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/**
 * cart.added → reserveCart-5+.lua: hold more units for the cart if available (sliding TTL).
 * Naming no location, the unit is routed across the tenant's locations (`default` for a
 * tenant that has none).
 */
export default defineConsumer({
  type: 'cart.added',
  data: z.object({ cartId: idString, sku: idString, quantity, locationId: idString.optional() }),
  command: (d, ctx) => ({
    op: 'reserveCart',
    cartId: d.cartId,
    sku: d.sku,
    ...(d.locationId !== undefined ? { locationId: d.locationId } : {}),
    quantity: d.quantity,
    ttlMs: ctx.cartTtlMs,
    ...(ctx.eventTimeMs !== undefined ? { at: ctx.eventTimeMs } : {}),
  }),
  orderingKeys: (d) => [`cart:${d.cartId}`],
});
