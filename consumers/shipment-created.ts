import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { lines } from './fields.js';

/** shipment.created → fulfilShipment-4+.lua: shipped units leave; partial shipments allowed. */
export default defineConsumer({
  type: 'shipment.created',
  data: z.object({ shipmentId: idString, orderId: idString, lines }),
  command: (d) => ({ op: 'ship', ...d }),
  orderingKeys: (d) => [`order:${d.orderId}`],
});
