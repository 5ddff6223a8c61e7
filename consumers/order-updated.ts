import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import type { Line } from '../src/domain/types.js';
import { defineConsumer } from './consumer.js';

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
    lines: z
      .array(z.object({ sku: idString, quantity, locationId: idString.optional() }))
      .min(1, 'must have at least one line')
      .max(500, 'at most 500 lines'),
  }),
  command: (d) => {
    const lines: Line[] = [];
    const unlocated: { sku: string; quantity: number }[] = [];
    for (const l of d.lines) {
      if (l.locationId !== undefined)
        lines.push({ sku: l.sku, quantity: l.quantity, locationId: l.locationId });
      else unlocated.push({ sku: l.sku, quantity: l.quantity });
    }
    return {
      op: 'updateOrder',
      orderId: d.orderId,
      lines,
      ...(unlocated.length ? { unlocated } : {}),
    };
  },
  orderingKeys: (d) => [`order:${d.orderId}`],
});
