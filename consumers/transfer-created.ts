import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** transfer.created → createTransfer-4.lua: a planned transfer; no location changes yet. */
export default defineConsumer({
  type: 'transfer.created',
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
  command: (d) => ({ op: 'transferCreate', ...d }),
  orderingKeys: (d) => [`transfer:${d.transferId}`],
});
