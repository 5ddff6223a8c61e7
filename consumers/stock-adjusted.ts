import { z } from 'zod';
import { idString, reasonString } from '../src/domain/schemas.js';
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
    // the ledger's reason: the rules of ids (the command takes it as one), 1–64 characters
    reason: reasonString,
    locationId: location,
  }),
  command: (d) => ({ op: 'adjustStock', ...d }),
  orderingKeys: (d) => [`stock:${d.sku}:${d.locationId}`],
});
