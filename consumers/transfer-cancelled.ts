import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** transfer.cancelled → cancelTransfer-4.lua: a transfer not shipped yet is cancelled. */
export default defineConsumer({
  type: 'transfer.cancelled',
  data: z.object({ transferId: idString, reason: idString.optional() }),
  command: (d) => ({
    op: 'cancelTransfer',
    transferId: d.transferId,
    ...(d.reason !== undefined ? { reason: d.reason } : {}),
  }),
  orderingKeys: (d) => [`transfer:${d.transferId}`],
});
