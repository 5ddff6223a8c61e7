import { z } from 'zod';
import { idString, placeCode } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/**
 * location.upserted → upsertLocation-4.lua: creates or replaces one of the tenant's locations
 * (its first one turns routing and binding checks on).
 */
export default defineConsumer({
  type: 'location.upserted',
  data: z.object({
    locationId: idString,
    name: z.string().min(1).max(255).optional(),
    priority: z.number().int().min(0).max(1e6).optional(),
    shipsTo: z
      .array(
        z
          .string()
          .trim()
          .transform((s) => s.toUpperCase())
          .pipe(placeCode),
      )
      .max(500)
      .optional(),
  }),
  command: (d) => ({
    op: 'upsertLocation',
    locationId: d.locationId,
    name: d.name ?? d.locationId,
    priority: d.priority ?? 100,
    shipsTo: [...new Set(d.shipsTo ?? [])],
  }),
  orderingKeys: () => ['network'],
});
