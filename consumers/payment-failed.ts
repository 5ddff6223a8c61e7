import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** payment.failed → releaseOrder-4+.lua (mode payfail): release unless a payment succeeded. */
export default defineConsumer({
  type: 'payment.failed',
  data: z.object({ orderId: idString, paymentId: idString }),
  command: (d) => ({
    op: 'releaseOrder',
    mode: 'payfail',
    orderId: d.orderId,
    paymentId: d.paymentId,
  }),
  orderingKeys: (d) => [`order:${d.orderId}`],
});
