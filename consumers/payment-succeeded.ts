import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { lines } from './fields.js';

/**
 * payment.succeeded → commitOrder-5+.lua: the first success commits the order's hold;
 * later ones (split payments) change nothing; an order with no hold is reserved now.
 */
export default defineConsumer({
  type: 'payment.succeeded',
  data: z.object({ orderId: idString, paymentId: idString, lines: lines.optional() }),
  command: (d) => ({
    op: 'commitOrder',
    orderId: d.orderId,
    paymentId: d.paymentId,
    ...(d.lines ? { lines: d.lines } : {}),
  }),
  orderingKeys: (d) => [`order:${d.orderId}`],
});
