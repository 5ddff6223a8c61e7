import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** cart.removed → releaseCart-5+.lua (mode remove): release that much, or all, of the SKU. */
export default defineConsumer({
  type: 'cart.removed',
  data: z.object({ cartId: idString, sku: idString, quantity: quantity.optional() }),
  command: (d, ctx) => ({
    op: 'releaseCart',
    mode: 'remove',
    ...d,
    ...(ctx.eventTimeMs !== undefined ? { at: ctx.eventTimeMs, rememberMs: ctx.cartTtlMs } : {}),
  }),
  orderingKeys: (d) => [`cart:${d.cartId}`],
});
