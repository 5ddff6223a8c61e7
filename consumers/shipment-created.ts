import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import type { Line } from '../src/domain/types.js';
import { defineConsumer } from './consumer.js';

/**
 * shipment.created → fulfilShipment-4+.lua: shipped units leave; partial shipments allowed.
 * A line naming no location ships from where the order holds the SKU (its routed allocation).
 */
export default defineConsumer({
  type: 'shipment.created',
  data: z.object({
    shipmentId: idString,
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
      op: 'fulfilShipment',
      shipmentId: d.shipmentId,
      orderId: d.orderId,
      lines,
      ...(unlocated.length ? { unlocated } : {}),
    };
  },
  orderingKeys: (d) => [`order:${d.orderId}`],
});
