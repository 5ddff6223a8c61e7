import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** transfer.shipped → shipTransfer-4+.lua: source on-hand drops, destination incoming rises. */
export default defineConsumer({
  type: 'transfer.shipped',
  data: z
    .object({
      transferId: idString,
      fromLocationId: idString,
      toLocationId: idString,
      lines: z
        .array(z.object({ sku: idString, quantity }))
        .min(1, 'must have at least one line')
        .max(500, 'at most 500 lines'),
    })
    .refine((t) => t.fromLocationId !== t.toLocationId, {
      message: 'must differ from fromLocationId',
      path: ['toLocationId'],
    }),
  command: (d) => ({ op: 'transferShip', ...d }),
  orderingKeys: (d) => [`transfer:${d.transferId}`],
});
