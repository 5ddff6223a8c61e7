import { z } from 'zod';
import { count, idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { location } from './fields.js';

/** stock.configured → configureStock-3+.lua: sets the low-stock threshold. */
export default defineConsumer({
  type: 'stock.configured',
  data: z.object({
    sku: idString,
    locationId: location,
    reorderLevel: count.optional(),
    reorderQuantity: count.optional(),
  }),
  command: (d) => ({
    op: 'configure',
    sku: d.sku,
    locationId: d.locationId,
    ...(d.reorderLevel !== undefined ? { reorderLevel: d.reorderLevel } : {}),
    ...(d.reorderQuantity !== undefined ? { reorderQuantity: d.reorderQuantity } : {}),
  }),
  orderingKeys: (d) => [`stock:${d.sku}:${d.locationId}`],
});
