import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { location } from './fields.js';

/** stock.adjusted → adjustStock-3+.lua: manual ± on-hand with a reason code. */
export default defineConsumer({
  type: 'stock.adjusted',
  data: z.object({
    sku: idString,
    delta: z
      .number()
      .int('must be a whole number')
      .min(-1e9, 'is too large')
      .max(1e9, 'is too large')
      .refine((d) => d !== 0, 'must not be zero')
      // the refinement, as JSON Schema says it (docs/schemas/)
      .meta({ not: { const: 0 } }),
    reason: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^\p{Cc}]+$/u, 'must be printable characters only'),
    locationId: location,
  }),
  command: (d) => ({ op: 'adjustStock', ...d }),
  orderingKeys: (d) => [`stock:${d.sku}:${d.locationId}`],
});
