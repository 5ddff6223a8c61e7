import { z } from 'zod';
import { idString, sourceString, tenantString } from './schemas.js';

/**
 * The `data` of every event the worker publishes on `inventory.events`, as zod schemas: the
 * announcements are built against these types (announcements.ts), and docs/schemas/published/
 * is generated from them (`npm run schemas`). They are closed (`additionalProperties: false`):
 * they list every field the worker sends, and the end-to-end tests validate every announcement
 * they receive against them.
 */

/** Which event caused the announcement: every announcement has these three. */
const causation = {
  causationId: idString,
  causationSource: sourceString,
  causationType: z.string().min(1).max(64),
};

const units = z.number().int().min(0);
/** A stock figure after the change: may be below zero (a shortage). */
const figure = z.number().int();
const holdKind = z.enum(['cart', 'order']);

const holdLine = z.strictObject({
  sku: idString,
  locationId: idString,
  quantity: units,
  /** units of `quantity` waiting under a backorder policy (inventory.reserved only, when not 0) */
  backordered: units.optional(),
  preordered: units.optional(),
});

/** inventory.reserved, .released, .expired, .committed, .fulfilled: one hold's lines. */
const holdData = z.strictObject({
  ...causation,
  referenceType: holdKind,
  referenceId: idString,
  reason: z.string().min(1).optional(),
  lines: z.array(holdLine).min(1),
});

const reservationFailed = z.strictObject({
  ...causation,
  reason: z.enum(['insufficient-stock', 'location-not-stocked']),
  referenceType: z.enum(['cart', 'order', 'transfer']),
  referenceId: idString,
  lines: z
    .array(
      z.strictObject({
        sku: idString,
        /** `*`: a routed SKU, short across the whole network */
        locationId: idString,
        /** absent for `location-not-stocked` */
        requested: units.optional(),
        available: figure,
      }),
    )
    .min(1),
});

const filled = z.strictObject({
  ...causation,
  referenceType: holdKind,
  referenceId: idString,
  cartId: idString.optional(),
  orderId: idString.optional(),
  sku: idString,
  locationId: idString,
  quantity: units,
  backordered: units,
  preordered: units,
});

const lowStock = z.strictObject({
  ...causation,
  sku: idString,
  locationId: idString,
  available: figure,
  reorderLevel: units,
  reorderQuantity: units.nullable(),
});

const shortage = z.strictObject({
  ...causation,
  sku: idString,
  locationId: idString,
  available: figure,
});

const availabilityChanged = z.strictObject({
  ...causation,
  sku: idString,
  /** the SKU-location; absent: the SKU's total across the tenant's locations */
  locationId: idString.optional(),
  /** after the event; the total: the units of the SKU's in-stock locations (0 when none) */
  available: figure,
  /** available > 0 after the event (the total: some location has available > 0) */
  inStock: z.boolean(),
});

/** What the reconciliation found different (`inventory.drift-detected`, `reconcile_drifts`). */
export const DRIFT_KINDS = [
  /** a Redis stock figure, less the outbox entries not mirrored yet, differs from the ledger */
  'redis-vs-ledger',
  /** a `stock_levels` figure differs from the ledger's sum (or the row is missing) */
  'stock-levels-vs-ledger',
  /** MySQL has the stock pair or the hold, Redis (with the tenant loaded) does not */
  'redis-missing',
  /** Redis has a stock hash or a hold that MySQL knows nothing of */
  'mysql-missing',
  /** what a Redis hold holds (less pending entries) differs from the ledger's sum for it */
  'hold-vs-ledger',
  /** what a `reservations` row holds differs from the ledger's sum for the reference */
  'reservation-vs-ledger',
  /** a Redis hold and its `reservations` row disagree (state, expiry, lines) */
  'hold-vs-reservation',
  /** an open cart past its expiry (plus grace) whose expiry job is gone */
  'leaked-cart',
  /** a hold waits at a pair outside its wait queue, or units are available while holds wait */
  'wait-queue',
  /** a location, binding or kit in Redis differs from `locations` / `location_skus` / `kits` */
  'network-vs-mysql',
  /** a SKU's count of in-stock locations (its total's availability) differs from its stock */
  'in-stock-count',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

const driftKind = z.enum(DRIFT_KINDS);
const measured = z.number().nullable().optional();

const driftDetected = z.strictObject({
  ...causation,
  runId: z.number().int().min(1),
  repair: z.boolean(),
  drifts: units,
  repaired: units,
  byKind: z.partialRecord(driftKind, units),
  truncated: z.boolean(),
  items: z.array(
    z.strictObject({
      kind: driftKind,
      sku: z.string().optional(),
      locationId: z.string().optional(),
      referenceType: z.string().optional(),
      referenceId: z.string().optional(),
      field: z.string().optional(),
      ledger: measured,
      redis: measured,
      stockLevels: measured,
      reservations: measured,
      pending: measured,
      detail: z.string().optional(),
      repaired: z.boolean(),
    }),
  ),
});

/** Every published event type and the schema of its `data`. */
export const ANNOUNCEMENT_DATA = {
  'inventory.reserved': holdData,
  'inventory.released': holdData,
  'inventory.expired': holdData,
  'inventory.committed': holdData,
  'inventory.fulfilled': holdData,
  'inventory.reservation-failed': reservationFailed,
  'inventory.filled': filled,
  'inventory.low-stock': lowStock,
  'inventory.shortage': shortage,
  'inventory.availability-changed': availabilityChanged,
  'inventory.drift-detected': driftDetected,
} as const;

export type AnnouncementType = keyof typeof ANNOUNCEMENT_DATA;
export const ANNOUNCEMENT_TYPES = Object.keys(ANNOUNCEMENT_DATA) as AnnouncementType[];
export type AnnouncementData<T extends AnnouncementType> = z.input<(typeof ANNOUNCEMENT_DATA)[T]>;

/**
 * The version of the published schemas: it changes only when a change would break a consumer
 * (a field removed, renamed or retyped). A new optional field keeps it.
 */
export const SCHEMA_VERSION = 'v1';

/**
 * The CloudEvents `dataschema` of a published type: a URN, stable wherever the worker runs,
 * that is also the `$id` of its file docs/schemas/published/<type>.json.
 */
export const dataschemaOf = (type: AnnouncementType): string =>
  `urn:inventory-worker:schema:${type}:${SCHEMA_VERSION}`;

/** An event the worker publishes on `inventory.events` (routing key = type). */
export type Announcement = {
  [T in AnnouncementType]: {
    type: T;
    /** deterministic: the same input event always yields the same ids (consumers can dedupe) */
    id: string;
    tenant: string;
    time: string;
    data: AnnouncementData<T>;
  };
}[AnnouncementType];

/** The sources the worker publishes under. */
export const WORKER_SOURCE = '/inventory-worker';
export const RECONCILE_SOURCE = '/inventory-worker/reconcile';

/** The envelope of a published event: CloudEvents 1.0, structured JSON mode. */
export const announcementEnvelope = z.strictObject({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.enum([WORKER_SOURCE, RECONCILE_SOURCE]),
  type: z.enum(ANNOUNCEMENT_TYPES as [AnnouncementType, ...AnnouncementType[]]),
  time: z.iso.datetime({ offset: true }),
  tenant: tenantString,
  datacontenttype: z.literal('application/json'),
  dataschema: z.string().regex(/^urn:inventory-worker:schema:inventory\./),
  // the CloudEvents distributed-tracing extension: the causing event's trace context, when it
  // had a valid one (trace-context.ts)
  traceparent: z
    .string()
    .regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
  tracestate: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});

/** Extension attributes an announcement may carry: the causing event's trace context. */
export interface TraceAttributes {
  traceparent?: string;
  tracestate?: string;
}

/** The CloudEvent (structured JSON mode) that carries an announcement. */
export function announcementEvent(
  a: Announcement,
  source: string = WORKER_SOURCE,
  trace: TraceAttributes = {},
): z.input<typeof announcementEnvelope> {
  return {
    specversion: '1.0',
    id: a.id,
    source: source as typeof WORKER_SOURCE,
    type: a.type,
    time: a.time,
    tenant: a.tenant,
    datacontenttype: 'application/json',
    dataschema: dataschemaOf(a.type),
    ...(trace.traceparent !== undefined ? { traceparent: trace.traceparent } : {}),
    ...(trace.tracestate !== undefined ? { tracestate: trace.tracestate } : {}),
    data: a.data,
  };
}
