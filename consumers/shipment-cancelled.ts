import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/**
 * shipment.cancelled → voidShipment-4+.lua: a shipment voided before it left; its units come
 * back on hand and into the order's hold as they were (available if the order was cancelled).
 */
export default defineConsumer({
  type: 'shipment.cancelled',
  data: z.object({ shipmentId: idString, orderId: idString }),
  command: (d) => ({ op: 'voidShipment', shipmentId: d.shipmentId, orderId: d.orderId }),
  orderingKeys: (d) => [`order:${d.orderId}`],
});
