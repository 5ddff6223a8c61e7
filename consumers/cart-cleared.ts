import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** cart.cleared → releaseCart-5+.lua (mode clear): release the cart's whole hold. */
export default defineConsumer({
  type: 'cart.cleared',
  data: z.object({ cartId: idString }),
  command: (d, ctx) => ({
    op: 'releaseCart',
    mode: 'clear',
    cartId: d.cartId,
    ...(ctx.eventTimeMs !== undefined ? { at: ctx.eventTimeMs, rememberMs: ctx.cartTtlMs } : {}),
  }),
  orderingKeys: (d) => [`cart:${d.cartId}`],
});
