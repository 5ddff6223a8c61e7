import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { line } from './fields.js';

/** rma.passed → returnStock-3+.lua: returned units come back, restocked or quarantined. */
export default defineConsumer({
  type: 'rma.passed',
  data: z.object({
    rmaId: idString,
    orderId: idString.optional(),
    lines: z
      .array(line.extend({ disposition: z.enum(['restock', 'quarantine']).default('restock') }))
      .min(1, 'must have at least one line')
      .max(500, 'at most 500 lines'),
  }),
  command: (d) => ({
    op: 'returnStock',
    rmaId: d.rmaId,
    ...(d.orderId !== undefined ? { orderId: d.orderId } : {}),
    lines: d.lines,
  }),
  orderingKeys: (d) => (d.orderId ? [`order:${d.orderId}`] : [`rma:${d.rmaId}`]),
});
