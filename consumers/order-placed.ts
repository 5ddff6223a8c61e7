import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { lines } from './fields.js';

/**
 * order.placed → placeOrder-5+.lua: all lines or none become an order hold; the cart's hold
 * converts. `fulfillFromLocationId` sets the location of lines that name none;
 * `shippingAddress` is accepted (routing by destination is not implemented yet).
 */
export default defineConsumer({
  type: 'order.placed',
  data: z.object({
    orderId: idString,
    cartId: idString.optional(),
    lines,
    fulfillFromLocationId: idString.optional(),
    shippingAddress: z
      .object({ country: z.string().min(2).max(64), region: z.string().max(64).optional() })
      .optional(),
  }),
  command: (d) => ({
    op: 'orderPlace',
    orderId: d.orderId,
    ...(d.cartId !== undefined ? { cartId: d.cartId } : {}),
    lines: d.lines.map((l) => ({
      sku: l.sku,
      quantity: l.quantity,
      locationId: d.fulfillFromLocationId ?? l.locationId,
    })),
  }),
  orderingKeys: (d) => [`order:${d.orderId}`, ...(d.cartId ? [`cart:${d.cartId}`] : [])],
});
