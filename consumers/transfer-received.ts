import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/**
 * transfer.received → receiveTransfer-4+.lua: destination incoming becomes on-hand, by
 * `lines` (a partial receipt) or everything still in transit. Before its transfer.shipped it
 * is retried later (not-yet), then dead-lettered.
 */
export default defineConsumer({
  type: 'transfer.received',
  data: z.object({
    transferId: idString,
    lines: z
      .array(z.object({ sku: idString, quantity }))
      .min(1, 'must have at least one line')
      .max(500, 'at most 500 lines')
      .optional(),
  }),
  command: (d) => ({
    op: 'receiveTransfer',
    transferId: d.transferId,
    ...(d.lines ? { lines: d.lines } : {}),
  }),
  orderingKeys: (d) => [`transfer:${d.transferId}`],
});
