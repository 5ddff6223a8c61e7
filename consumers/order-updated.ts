import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { placeableLines, splitLocated } from './fields.js';

/**
 * order.updated → updateOrder-4+.lua: the order's complete new lines (not a diff). The hold
 * becomes the new lines less what shipped: growth is reserved all or nothing (committed when
 * paid), what shrank is released. A line naming no location goes where the order has the SKU
 * already, else to the tenant's first location bound to it, else `default`.
 */
export default defineConsumer({
  type: 'order.updated',
  data: z.object({
    orderId: idString,
    lines: placeableLines,
  }),
  command: (d) => {
    const { lines, unlocated } = splitLocated(d.lines);
    return {
      op: 'updateOrder',
      orderId: d.orderId,
      lines,
      ...(unlocated.length ? { unlocated } : {}),
    };
  },
  orderingKeys: (d) => [`order:${d.orderId}`],
});
