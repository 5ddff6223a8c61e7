import { z } from 'zod';
import { idString, placeCode } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** `placeCode` in either case, with whitespace around it (\s is what trim() removes). */
const RAW_PLACE_CODE = /^\s*[A-Za-z]{2}(?:-[A-Za-z0-9]{1,3})?\s*$/;

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
          // checked before upper-casing, so the JSON Schema says it too (toUpperCase makes
          // ASCII of a few other letters: 'ı' is 'I')
          .regex(RAW_PLACE_CODE, 'must be a country code (US) or country-region (US-CA)')
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
