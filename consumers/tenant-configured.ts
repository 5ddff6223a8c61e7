import { z } from 'zod';
import { tenantSetting } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/**
 * tenant.configured → configureTenant-3.lua: the tenant's settings as data. Each setting it
 * names is set (null: back to the environment's default), unless an event with a later
 * CloudEvents `time` set that setting already; those it does not name stay as they are.
 */
export default defineConsumer({
  type: 'tenant.configured',
  data: z
    .object({
      cartTtlSeconds: tenantSetting.cartTtlSeconds.nullable().optional(),
      checkoutTtlSeconds: tenantSetting.checkoutTtlSeconds.nullable().optional(),
      defaultReorderLevel: tenantSetting.defaultReorderLevel.nullable().optional(),
    })
    .refine(
      (d) =>
        d.cartTtlSeconds !== undefined ||
        d.checkoutTtlSeconds !== undefined ||
        d.defaultReorderLevel !== undefined,
      'must name at least one of cartTtlSeconds, checkoutTtlSeconds, defaultReorderLevel',
    )
    // the refinement in JSON Schema: one of the three present
    .meta({
      anyOf: ['cartTtlSeconds', 'checkoutTtlSeconds', 'defaultReorderLevel'].map((name) => ({
        properties: { [name]: true },
        required: [name],
      })),
    }),
  command: (d, ctx) => ({
    op: 'configureTenant',
    at:
      ctx.occurredAtMs !== undefined && Number.isInteger(ctx.occurredAtMs)
        ? ctx.occurredAtMs
        : Date.now(),
    ...(d.cartTtlSeconds !== undefined ? { cartTtlSeconds: d.cartTtlSeconds } : {}),
    ...(d.checkoutTtlSeconds !== undefined ? { checkoutTtlSeconds: d.checkoutTtlSeconds } : {}),
    ...(d.defaultReorderLevel !== undefined ? { defaultReorderLevel: d.defaultReorderLevel } : {}),
  }),
  // one tenant's settings, in delivery order on one worker; across workers the later `time` wins
  orderingKeys: () => ['tenant-settings'],
});
