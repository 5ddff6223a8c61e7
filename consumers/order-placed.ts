import { z } from 'zod';
import { idString, quantity } from '../src/domain/schemas.js';
import type { Line } from '../src/domain/types.js';
import { defineConsumer } from './consumer.js';

const place = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .transform((s) => s.toUpperCase());

/**
 * order.placed → placeOrder-6+.lua: all lines or none become an order hold; the cart's hold
 * converts. `fulfillFromLocationId` sets the location of every line (it overrides); the lines left
 * without one are routed (domain/network.ts) towards `shippingAddress` (its country, and
 * region); for a tenant with no locations they are at `default`.
 */
export default defineConsumer({
  type: 'order.placed',
  data: z.object({
    orderId: idString,
    cartId: idString.optional(),
    lines: z
      .array(z.object({ sku: idString, quantity, locationId: idString.optional() }))
      .min(1, 'must have at least one line')
      .max(500, 'at most 500 lines'),
    fulfillFromLocationId: idString.optional(),
    shippingAddress: z.object({ country: place, region: place.optional() }).optional(),
  }),
  command: (d, ctx) => {
    const lines: Line[] = [];
    const routed: { sku: string; quantity: number }[] = [];
    for (const l of d.lines) {
      const loc = d.fulfillFromLocationId ?? l.locationId;
      if (loc !== undefined) lines.push({ sku: l.sku, quantity: l.quantity, locationId: loc });
      else routed.push({ sku: l.sku, quantity: l.quantity });
    }
    const a = d.shippingAddress;
    return {
      op: 'placeOrder',
      orderId: d.orderId,
      ...(d.cartId !== undefined ? { cartId: d.cartId } : {}),
      ...(d.cartId !== undefined && ctx.eventTimeMs !== undefined
        ? { at: ctx.eventTimeMs, rememberMs: ctx.cartTtlMs }
        : {}),
      lines,
      ...(routed.length > 0 ? { routed } : {}),
      ...(a
        ? { destination: { country: a.country, ...(a.region ? { region: a.region } : {}) } }
        : {}),
    };
  },
  orderingKeys: (d) => [`order:${d.orderId}`, ...(d.cartId ? [`cart:${d.cartId}`] : [])],
});
