import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** order.cancelled → releaseOrder-4+.lua (mode cancel): release every unit not yet shipped. */
export default defineConsumer({
  type: 'order.cancelled',
  data: z.object({ orderId: idString, reason: idString.optional() }),
  command: (d) => ({
    op: 'releaseOrder',
    mode: 'cancel',
    orderId: d.orderId,
    ...(d.reason !== undefined ? { reason: d.reason.slice(0, 64) } : {}),
  }),
  orderingKeys: (d) => [`order:${d.orderId}`],
});
