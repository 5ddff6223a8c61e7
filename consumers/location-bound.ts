import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** location.bound → bindLocation-5+.lua: the location stocks these SKUs from now on. */
export default defineConsumer({
  type: 'location.bound',
  data: z.object({
    locationId: idString,
    skus: z.array(idString).min(1, 'must name at least one SKU').max(500, 'at most 500 SKUs'),
  }),
  command: (d) => ({ op: 'bindLocation', locationId: d.locationId, skus: d.skus, bound: true }),
  orderingKeys: () => ['network'],
});
