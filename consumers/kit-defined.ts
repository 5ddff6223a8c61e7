import { compareBytes } from '../src/domain/pairs.js';
import { kitDefinition } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/**
 * kit.defined → defineKit-4.lua: creates or replaces a kit (its components in byte order of
 * their SKUs, as the `kits` hash keeps them).
 */
export default defineConsumer({
  type: 'kit.defined',
  data: kitDefinition,
  command: (d) => ({
    op: 'defineKit',
    sku: d.sku,
    components: d.components
      .map((c) => ({ sku: c.sku, quantity: c.quantity }))
      .sort((a, b) => compareBytes(a.sku, b.sku)),
  }),
  orderingKeys: () => ['network'],
});
