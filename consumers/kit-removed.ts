import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** kit.removed → removeKit-4.lua: the SKU is no longer a kit (holds already taken keep their units). */
export default defineConsumer({
  type: 'kit.removed',
  data: z.object({ sku: idString }),
  command: (d) => ({ op: 'removeKit', sku: d.sku }),
  orderingKeys: () => ['network'],
});
