import { z } from 'zod';
import { count, idString, sellPolicy } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { location } from './fields.js';

/**
 * stock.configured → configureStock-3+.lua: sets the low-stock threshold and the policy for
 * selling ahead of stock (deny, backorder, preorder with a limit and an end date).
 */
export default defineConsumer({
  type: 'stock.configured',
  data: z.object({
    sku: idString,
    locationId: location,
    reorderLevel: count.optional(),
    reorderQuantity: count.optional(),
    policy: sellPolicy.optional(),
    policyLimit: count.optional(),
    preorderUntil: z.iso
      .datetime({ offset: true, message: 'must be an RFC 3339 timestamp' })
      .nullable()
      .optional(),
  }),
  command: (d) => ({
    op: 'configureStock',
    sku: d.sku,
    locationId: d.locationId,
    ...(d.reorderLevel !== undefined ? { reorderLevel: d.reorderLevel } : {}),
    ...(d.reorderQuantity !== undefined ? { reorderQuantity: d.reorderQuantity } : {}),
    ...(d.policy !== undefined ? { policy: d.policy } : {}),
    ...(d.policyLimit !== undefined ? { policyLimit: d.policyLimit } : {}),
    ...(d.preorderUntil !== undefined
      ? { preorderUntil: d.preorderUntil === null ? null : Date.parse(d.preorderUntil) }
      : {}),
  }),
  orderingKeys: (d) => [`stock:${d.sku}:${d.locationId}`],
});
