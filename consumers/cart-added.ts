import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { location } from './fields.js';

/** cart.added → reserveCart-4+.lua: hold more units for the cart if available (sliding TTL). */
export default defineConsumer({
  type: 'cart.added',
  data: z.object({ cartId: idString, sku: idString, quantity, locationId: location }),
  command: (d, ctx) => ({ op: 'cartAdd', ...d, ttlMs: ctx.cartTtlMs }),
  orderingKeys: (d) => [`cart:${d.cartId}`],
});
