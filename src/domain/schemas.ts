import { z } from 'zod';
import { PermanentError } from '../errors/permanent-error.js';
import type { Command, EventMeta } from './types.js';
import { MAX_KIT_COMPONENTS } from './kits.js';

/**
 * Characters that would let two different ids be one key somewhere, or look like one to a
 * person: MySQL's utf8mb4_bin compares with trailing spaces ignored (`'e1' = 'e1 '`, where
 * Redis keeps two keys), an unpaired surrogate becomes U+FFFD in UTF-8 (in Redis and MySQL
 * alike), and zero-width and bidirectional controls do not show.
 */
const EDGE_WHITESPACE = /^(?!\p{White_Space})(?![\s\S]*\p{White_Space}$)/u;
const NO_INVISIBLE = /^[^\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]*$/u;
const NO_UNPAIRED_SURROGATE = /^\P{Cs}*$/u;

/**
 * An identifier of 1–`max` characters that means the same in Redis, MySQL and to a reader.
 * Regular expressions rather than refinements, so the JSON Schemas generated from these
 * (docs/schemas/) say the same: each becomes a `pattern` (ECMA-262, Unicode mode).
 */
const identifier = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(/^[^\p{Cc}]+$/u, 'must be printable characters only')
    .regex(EDGE_WHITESPACE, 'must not begin or end with whitespace')
    .regex(NO_INVISIBLE, 'must not contain zero-width or bidirectional control characters')
    .regex(NO_UNPAIRED_SURROGATE, 'must not contain unpaired UTF-16 surrogates');

/**
 * SKUs, ids, location ids: 1–128 printable characters, no whitespace at either end, no
 * zero-width or bidirectional controls, no unpaired surrogates (see docs/events.md).
 */
export const idString = identifier(128);

/** Tenants also name Redis hash tags and must stay simple. */
export const tenantString = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'must be 1–64 of A-Z a-z 0-9 _ . - (starting alphanumeric)',
  );

/** A reason code (`stock.adjusted`): the same rules as ids, up to 64 characters. */
export const reasonString = identifier(64);

/** An event's `source`: the same rules as ids, up to 255 characters. */
export const sourceString = identifier(255);

/** Quantities are positive integers; a safe upper bound keeps sums exact everywhere. */
export const quantity = z
  .number()
  .int('must be a whole number')
  .positive('must be positive')
  .max(1e9);
/** An event's CloudEvents `time` as epoch ms (as `Date.parse` reads an RFC 3339 timestamp). */
export const eventTime = z.number().int();
export const count = z
  .number()
  .int('must be a whole number')
  .min(0, 'must not be negative')
  .max(1e9);

/** Selling ahead of stock (`stock.configured`): see docs/events.md, "Selling ahead of stock". */
export const sellPolicy = z.enum(['deny', 'backorder', 'preorder']);

/** A tenant's settings (`tenant.configured`), each within its bounds. */
export const tenantSetting = {
  /** 1 s to 30 days */
  cartTtlSeconds: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be positive')
    .max(30 * 24 * 3600),
  /** 1 s to 7 days, as CHECKOUT_TTL_SECONDS and cart.checkout-started's ttlSeconds */
  checkoutTtlSeconds: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be positive')
    .max(7 * 24 * 3600),
  /** as stock.configured's reorderLevel */
  defaultReorderLevel: count,
};

const line = z.strictObject({ sku: idString, locationId: idString, quantity });
const skuLines = z
  .array(z.strictObject({ sku: idString, quantity }))
  .min(1, 'must have at least one line')
  .max(500);

/** `US` or `US-CA`: where a location ships to, and an order's destination, upper case. */
export const placeCode = z
  .string()
  .regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/, 'must be a country code (US) or country-region (US-CA)');

/** `transfer.created` and `transfer.shipped` data: the same transfer, planned or on its way. */
export const transferData = z
  .object({
    transferId: idString,
    fromLocationId: idString,
    toLocationId: idString,
    lines: z
      .array(z.object({ sku: idString, quantity }))
      .min(1, 'must have at least one line')
      .max(500, 'at most 500 lines'),
  })
  .refine((t) => t.fromLocationId !== t.toLocationId, {
    message: 'must differ from fromLocationId',
    path: ['toLocationId'],
  });

/**
 * A kit's definition (`kit.defined`): the kit SKU and 1–MAX_KIT_COMPONENTS components, each a
 * distinct SKU other than the kit's own, with a whole quantity of at least 1 per kit.
 */
export const kitDefinition = z
  .object({
    sku: idString,
    components: z
      .array(z.object({ sku: idString, quantity }))
      .min(1, 'must have at least one component')
      .max(MAX_KIT_COMPONENTS, `at most ${MAX_KIT_COMPONENTS} components`),
  })
  .superRefine((k, ctx) => {
    const seen = new Set<string>();
    k.components.forEach((c, i) => {
      if (c.sku === k.sku)
        ctx.addIssue({
          code: 'custom',
          message: 'a kit cannot be its own component',
          path: ['components', i, 'sku'],
        });
      else if (seen.has(c.sku))
        ctx.addIssue({
          code: 'custom',
          message: 'component SKUs must be distinct',
          path: ['components', i, 'sku'],
        });
      seen.add(c.sku);
    });
  });

export const eventMetaSchema: z.ZodType<EventMeta> = z.strictObject({
  tenant: tenantString,
  source: sourceString,
  id: idString,
  type: z.string().min(1).max(64),
  occurredAt: z.string().min(1).max(64),
  // 32 lower-case hex digits (trace-context.ts): the Lua scripts copy it into the payload as is
  traceId: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
});

export const commandSchema: z.ZodType<Command> = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('receiveStock'),
    sku: idString,
    locationId: idString,
    quantity,
    reference: idString.optional(),
  }),
  z.strictObject({
    op: z.literal('adjustStock'),
    sku: idString,
    locationId: idString,
    delta: z
      .number()
      .int('must be a whole number')
      .refine((d) => d !== 0, 'must not be zero')
      .refine((d) => Math.abs(d) <= 1e9, 'is too large'),
    reason: idString,
  }),
  z.strictObject({
    op: z.literal('countStock'),
    sku: idString,
    locationId: idString,
    onHand: count,
  }),
  z.strictObject({
    op: z.literal('configureStock'),
    sku: idString,
    locationId: idString,
    reorderLevel: count.optional(),
    reorderQuantity: count.optional(),
    policy: sellPolicy.optional(),
    policyLimit: count.optional(),
    preorderUntil: z.number().int().nullable().optional(),
  }),
  z.strictObject({
    op: z.literal('reserveCart'),
    cartId: idString,
    sku: idString,
    locationId: idString.optional(),
    quantity,
    ttlMs: z.number().int().positive(),
    at: eventTime.optional(),
  }),
  z.discriminatedUnion('mode', [
    z.strictObject({
      op: z.literal('releaseCart'),
      mode: z.literal('remove'),
      cartId: idString,
      sku: idString,
      quantity: quantity.optional(),
      at: eventTime.optional(),
      rememberMs: z.number().int().positive().optional(),
    }),
    z.strictObject({
      op: z.literal('releaseCart'),
      mode: z.literal('clear'),
      cartId: idString,
      at: eventTime.optional(),
      rememberMs: z.number().int().positive().optional(),
    }),
    z.strictObject({
      op: z.literal('releaseCart'),
      mode: z.literal('expire'),
      cartId: idString,
      expiresAt: z.number().int(),
    }),
  ]),
  z.strictObject({
    op: z.literal('requeueWaiting'),
    sku: idString,
    locationId: idString,
    members: z.array(z.string().regex(/^(cart|order):\P{Cc}+$/u)).max(10_000),
  }),
  z
    .strictObject({
      op: z.literal('placeOrder'),
      orderId: idString,
      cartId: idString.optional(),
      at: eventTime.optional(),
      rememberMs: z.number().int().positive().optional(),
      lines: z.array(line).max(500),
      routed: skuLines.optional(),
      destination: z
        .strictObject({
          country: z.string().min(1).max(64),
          region: z.string().min(1).max(64).optional(),
        })
        .optional(),
    })
    .refine((o) => o.lines.length + (o.routed?.length ?? 0) > 0, {
      message: 'must have at least one line',
      path: ['lines'],
    }),
  z.strictObject({
    op: z.literal('commitOrder'),
    orderId: idString,
    paymentId: idString,
    lines: z.array(line).max(500).optional(),
  }),
  z.discriminatedUnion('mode', [
    z.strictObject({
      op: z.literal('releaseOrder'),
      mode: z.literal('payfail'),
      orderId: idString,
      paymentId: idString,
    }),
    z.strictObject({
      op: z.literal('releaseOrder'),
      mode: z.literal('cancel'),
      orderId: idString,
      reason: idString.optional(),
    }),
  ]),
  z.strictObject({
    op: z.literal('extendCart'),
    cartId: idString,
    ttlMs: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600 * 1000),
    ttlFromEvent: z.boolean().optional(),
  }),
  z
    .strictObject({
      op: z.literal('configureTenant'),
      at: z.number().int(),
      cartTtlSeconds: tenantSetting.cartTtlSeconds.nullable().optional(),
      checkoutTtlSeconds: tenantSetting.checkoutTtlSeconds.nullable().optional(),
      defaultReorderLevel: tenantSetting.defaultReorderLevel.nullable().optional(),
    })
    .refine(
      (c) =>
        c.cartTtlSeconds !== undefined ||
        c.checkoutTtlSeconds !== undefined ||
        c.defaultReorderLevel !== undefined,
      'names no setting',
    ),
  z
    .strictObject({
      op: z.literal('fulfilShipment'),
      shipmentId: idString,
      orderId: idString,
      lines: z.array(line).max(500),
      unlocated: skuLines.optional(),
    })
    .refine((o) => o.lines.length + (o.unlocated?.length ?? 0) > 0, {
      message: 'must have at least one line',
      path: ['lines'],
    }),
  z
    .strictObject({
      op: z.literal('updateOrder'),
      orderId: idString,
      lines: z.array(line).max(500),
      unlocated: skuLines.optional(),
    })
    .refine((o) => o.lines.length + (o.unlocated?.length ?? 0) > 0, {
      message: 'must have at least one line',
      path: ['lines'],
    }),
  z.strictObject({
    op: z.literal('voidShipment'),
    shipmentId: idString,
    orderId: idString,
  }),
  z.strictObject({
    op: z.literal('returnStock'),
    rmaId: idString,
    orderId: idString.optional(),
    lines: z
      .array(line.extend({ disposition: z.enum(['restock', 'quarantine']) }))
      .min(1, 'must have at least one line')
      .max(500),
  }),
  z
    .strictObject({
      op: z.literal('shipTransfer'),
      transferId: idString,
      fromLocationId: idString,
      toLocationId: idString,
      lines: z
        .array(z.strictObject({ sku: idString, quantity }))
        .min(1, 'must have at least one line')
        .max(500),
    })
    .refine(
      (t) => t.fromLocationId !== t.toLocationId,
      'fromLocationId must differ from toLocationId',
    ),
  z.strictObject({
    op: z.literal('receiveTransfer'),
    transferId: idString,
    lines: skuLines.optional(),
  }),
  z
    .strictObject({
      op: z.literal('createTransfer'),
      transferId: idString,
      fromLocationId: idString,
      toLocationId: idString,
      lines: skuLines,
    })
    .refine(
      (t) => t.fromLocationId !== t.toLocationId,
      'fromLocationId must differ from toLocationId',
    ),
  z.strictObject({
    op: z.literal('cancelTransfer'),
    transferId: idString,
    reason: idString.optional(),
  }),
  z.strictObject({
    op: z.literal('upsertLocation'),
    locationId: idString,
    name: z.string().min(1).max(255),
    priority: z.number().int().min(0).max(1e6),
    shipsTo: z.array(placeCode).max(500),
  }),
  z.strictObject({
    op: z.literal('bindLocation'),
    locationId: idString,
    skus: z.array(idString).min(1, 'must name at least one SKU').max(500),
    bound: z.boolean(),
  }),
  z
    .strictObject({
      op: z.literal('defineKit'),
      sku: idString,
      components: z
        .array(z.strictObject({ sku: idString, quantity }))
        .min(1)
        .max(MAX_KIT_COMPONENTS),
    })
    .superRefine((k, ctx) => {
      const skus = k.components.map((c) => c.sku);
      if (skus.includes(k.sku) || new Set(skus).size !== skus.length)
        ctx.addIssue({
          code: 'custom',
          message: 'component SKUs must be distinct and differ from the kit SKU',
          path: ['components'],
        });
    }),
  z.strictObject({ op: z.literal('removeKit'), sku: idString }),
]);

/**
 * The CloudEvents 1.0 envelope of a consumed event (structured JSON mode); extension
 * attributes are allowed. `data` is checked by the consumer of the type.
 */
export const cloudEventSchema = z.looseObject({
  specversion: z.literal('1.0', { message: 'must be "1.0"' }),
  id: idString,
  source: sourceString,
  type: z.string().min(1).max(64),
  // bounded as the event's occurredAt is (eventMetaSchema)
  time: z.iso
    .datetime({ offset: true, message: 'must be an RFC 3339 timestamp' })
    .max(64, 'must be at most 64 characters')
    .optional(),
  tenant: tenantString.optional(),
  datacontenttype: z.string().optional(),
  data: z.unknown(),
});

/** Formats zod issues as `path: message; …` for error reasons a person can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * An event's identity and command, validated as the engine and the model both take them;
 * PermanentError (`invalid`) names what is wrong.
 */
export function parseEvent(
  meta: EventMeta,
  command: Command,
): { meta: EventMeta; command: Command } {
  const m = eventMetaSchema.safeParse(meta);
  if (!m.success) throw new PermanentError(`invalid event: ${describeIssues(m.error)}`, 'invalid');
  const c = commandSchema.safeParse(command);
  if (!c.success)
    throw new PermanentError(`invalid event data: ${describeIssues(c.error)}`, 'invalid');
  return { meta: m.data, command: c.data };
}
