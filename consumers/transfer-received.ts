import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/**
 * transfer.received → receiveTransfer-4+.lua: destination incoming becomes on-hand.
 * Before its transfer.shipped it is retried later (not-yet), then dead-lettered.
 */
export default defineConsumer({
  type: 'transfer.received',
  data: z.object({ transferId: idString }),
  command: (d) => ({ op: 'transferReceive', transferId: d.transferId }),
  orderingKeys: (d) => [`transfer:${d.transferId}`],
});
