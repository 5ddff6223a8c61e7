import { z } from 'zod';
import { count, idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { location } from './fields.js';

/** stock.counted → countStock-3+.lua: a physical count sets on-hand. */
export default defineConsumer({
  type: 'stock.counted',
  data: z.object({ sku: idString, onHand: count, locationId: location }),
  command: (d) => ({ op: 'countStock', ...d }),
  orderingKeys: (d) => [`stock:${d.sku}:${d.locationId}`],
});
