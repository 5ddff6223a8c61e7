import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { placeableLines, splitLocated } from './fields.js';

/**
 * shipment.created → fulfilShipment-4+.lua: shipped units leave; partial shipments allowed.
 * A line naming no location ships from where the order holds the SKU (its routed allocation).
 */
export default defineConsumer({
  type: 'shipment.created',
  data: z.object({
    shipmentId: idString,
    orderId: idString,
    lines: placeableLines,
  }),
  command: (d) => {
    const { lines, unlocated } = splitLocated(d.lines);
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
