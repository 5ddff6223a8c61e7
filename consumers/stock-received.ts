import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { location } from './fields.js';

/** stock.received → receiveStock-3+.lua: on-hand rises. */
export default defineConsumer({
  type: 'stock.received',
  data: z.object({ sku: idString, quantity, locationId: location, reference: idString.optional() }),
  command: (d) => ({ op: 'receiveStock', ...d }),
  orderingKeys: (d) => [`stock:${d.sku}:${d.locationId}`],
});
