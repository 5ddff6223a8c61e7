/**
 * The vocabulary shared by the Lua engine, the pure domain model, the ledger mirror and the
 * consumers. No I/O here.
 *
 * Figures are kept per tenant, SKU and location:
 *   onHand       physically there
 *   reserved     held by carts and orders, not yet shipped
 *   committed    the part of `reserved` held by paid orders
 *   unavailable  quarantined
 *   incoming     in transit towards this location
 *   backordered  held by carts and orders under a backorder policy, waiting for stock
 *   preordered   held by carts and orders under a pre-order policy, waiting for stock
 *   available  = onHand - reserved - unavailable
 * `reserved` counts only held units backed by stock on hand; waiting units are filled
 * (moved into `reserved`) as stock arrives, in the order they started waiting.
 */

export const DEFAULT_TENANT = 'default';

/** One component of a kit (kit.defined, see domain/kits.ts): `quantity` units of `sku` per kit. */
export interface KitComponent {
  sku: string;
  quantity: number;
}
export const DEFAULT_LOCATION = 'default';

export interface StockFigures {
  onHand: number;
  reserved: number;
  committed: number;
  unavailable: number;
  incoming: number;
  backordered: number;
  preordered: number;
}

/** Every figure 0: a SKU-location that never moved. */
export const ZERO_FIGURES: Readonly<StockFigures> = Object.freeze({
  onHand: 0,
  reserved: 0,
  committed: 0,
  unavailable: 0,
  incoming: 0,
  backordered: 0,
  preordered: 0,
});

/** Selling ahead of stock at one SKU-location (`stock.configured`). */
export type SellPolicy = 'deny' | 'backorder' | 'preorder';

export interface StockRecord extends StockFigures {
  /** Absent until a `stock.configured` sets it. */
  reorderLevel?: number;
  reorderQuantity?: number;
  /** Absent: deny. */
  policy?: 'backorder' | 'preorder';
  /** The most units that may wait under the policy; absent: 0. */
  policyLimit?: number;
  /** Pre-orders only: no new pre-ordered units from this time (epoch ms); absent: no end. */
  preorderUntil?: number;
}

export const availableOf = (s: StockFigures): number => s.onHand - s.reserved - s.unavailable;

/** Identity of the event that caused a change: `source` + `id` make it unique per tenant. */
export interface EventMeta {
  tenant: string;
  source: string;
  id: string;
  type: string;
  /** ISO-8601 time the platform says the event happened. */
  occurredAt: string;
  /** the trace id of the event's `traceparent`, when it came with one (trace-context.ts) */
  traceId?: string;
}

export interface Line {
  sku: string;
  locationId: string;
  quantity: number;
}

/** Where an order ships to (`shippingAddress` of order.placed). */
export interface Destination {
  country: string;
  region?: string;
}

export type Disposition = 'restock' | 'quarantine';

/** One operation of the engine; every consumed event maps to exactly one command. */
export type Command =
  | { op: 'receiveStock'; sku: string; locationId: string; quantity: number; reference?: string }
  | { op: 'adjustStock'; sku: string; locationId: string; delta: number; reason: string }
  | { op: 'countStock'; sku: string; locationId: string; onHand: number }
  | {
      op: 'configureStock';
      sku: string;
      locationId: string;
      reorderLevel?: number;
      reorderQuantity?: number;
      policy?: SellPolicy;
      policyLimit?: number;
      /** epoch ms; null removes the end date */
      preorderUntil?: number | null;
    }
  /**
   * `locationId` omitted (cart.added naming no location): routed (domain/network.ts);
   * `default` outside a network.
   */
  | {
      op: 'reserveCart';
      cartId: string;
      sku: string;
      locationId?: string;
      quantity: number;
      ttlMs: number;
      /**
       * The event's CloudEvents `time` (epoch ms), when it had one: an addition earlier than a
       * removal or clearing of the cart already applied is undone by it (see CartRemovals).
       */
      at?: number;
      /** set by expandKits (domain/kits.ts) when `sku` is a kit: `quantity` kits */
      kit?: KitComponent[];
    }
  /**
   * `quantity` omitted releases the cart's whole hold on the SKU (every location). With `at`
   * (the event's `time`), what it could not find to release is remembered for `rememberMs`
   * against earlier additions still to come (another worker's).
   */
  | {
      op: 'releaseCart';
      mode: 'remove';
      cartId: string;
      sku: string;
      quantity?: number;
      at?: number;
      rememberMs?: number;
      /** set by expandKits when `sku` is a kit: `quantity` kits (absent: every whole kit held) */
      kit?: KitComponent[];
    }
  | { op: 'releaseCart'; mode: 'clear'; cartId: string; at?: number; rememberMs?: number }
  /** Released only if the cart is still open and its expiry is still `expiresAt`. */
  | { op: 'releaseCart'; mode: 'expire'; cartId: string; expiresAt: number }
  /**
   * The reconciliation's repair of a wait queue: of `members` ('cart:<id>' / 'order:<id>'),
   * those waiting at the pair without being queued are queued again, behind the others; then
   * what is available there fills the waiting holds, as at the close of any event.
   */
  | { op: 'requeueWaiting'; sku: string; locationId: string; members: string[] }
  /**
   * `routed`: lines that named no location, allocated by the routing strategy (towards
   * `destination` when given); outside a network they go to `default`.
   */
  | {
      op: 'placeOrder';
      orderId: string;
      cartId?: string;
      lines: Line[];
      routed?: { sku: string; quantity: number }[];
      destination?: Destination;
      /**
       * With `cartId`, the event's CloudEvents `time` (epoch ms): a cart not open yet remembers
       * it for `rememberMs`, and its additions earlier than it, overtaken, are not held.
       */
      at?: number;
      rememberMs?: number;
      /** set by expandKits: the components of each routed kit, to go to one location */
      kitGroups?: string[][];
    }
  | { op: 'commitOrder'; orderId: string; paymentId: string; lines?: Line[] }
  /** payment.failed (nothing released once paid) or order.cancelled (what has not shipped) */
  | { op: 'releaseOrder'; mode: 'payfail'; orderId: string; paymentId: string }
  | { op: 'releaseOrder'; mode: 'cancel'; orderId: string; reason?: string }
  | {
      /**
       * cart.checkout-started: the cart's hold lasts at least `ttlMs` from now. `ttlMs` is the
       * event's own (`ttlFromEvent`), else CHECKOUT_TTL_SECONDS, which the tenant's
       * checkoutTtlSeconds (tenant.configured) replaces.
       */
      op: 'extendCart';
      cartId: string;
      ttlMs: number;
      ttlFromEvent?: boolean;
    }
  | {
      /**
       * tenant.configured: sets each setting it names (null: back to the environment's
       * default), unless an event with a later `at` set that setting already.
       */
      op: 'configureTenant';
      /** the event's CloudEvents `time`, epoch ms */
      at: number;
      cartTtlSeconds?: number | null;
      checkoutTtlSeconds?: number | null;
      defaultReorderLevel?: number | null;
    }
  /**
   * `unlocated`: shipped lines that named no location; they ship from the order's own hold of
   * the SKU (in pair order), the rest from the first location the order has the SKU at, else
   * `default`.
   */
  | {
      op: 'fulfilShipment';
      shipmentId: string;
      orderId: string;
      lines: Line[];
      unlocated?: { sku: string; quantity: number }[];
    }
  /**
   * order.updated: the order's complete new lines. `unlocated`: lines that named no location;
   * each goes where the order has the SKU already (its first pair in byte order), else to the
   * tenant's first location bound to the SKU (by priority), else `default`.
   */
  | {
      op: 'updateOrder';
      orderId: string;
      lines: Line[];
      unlocated?: { sku: string; quantity: number }[];
    }
  /** shipment.cancelled: the shipment's units come back (see src/domain/shipment-record.ts) */
  | {
      op: 'voidShipment';
      shipmentId: string;
      orderId: string;
    }
  | {
      op: 'returnStock';
      rmaId: string;
      orderId?: string;
      lines: (Line & { disposition: Disposition })[];
    }
  | {
      op: 'shipTransfer';
      transferId: string;
      fromLocationId: string;
      toLocationId: string;
      lines: { sku: string; quantity: number }[];
    }
  /** `lines` omitted: every unit still in transit arrives. */
  | { op: 'receiveTransfer'; transferId: string; lines?: { sku: string; quantity: number }[] }
  /** A planned transfer: a record only; no location changes until it ships. */
  | {
      op: 'createTransfer';
      transferId: string;
      fromLocationId: string;
      toLocationId: string;
      lines: { sku: string; quantity: number }[];
    }
  | { op: 'cancelTransfer'; transferId: string; reason?: string }
  | {
      op: 'upsertLocation';
      locationId: string;
      name: string;
      priority: number;
      /** ISO country codes (`US`) or country-region codes (`US-CA`); empty: ships anywhere */
      shipsTo: string[];
    }
  /** Binds (or unbinds) SKUs to a location: which SKUs it stocks. */
  | { op: 'bindLocation'; locationId: string; skus: string[]; bound: boolean }
  /** kit.defined: creates or replaces a kit (components in byte order of their SKUs, distinct). */
  | { op: 'defineKit'; sku: string; components: KitComponent[] }
  /** kit.removed */
  | { op: 'removeKit'; sku: string };

export type Op = Command['op'];

/** Ledger movement kinds (the `movement` column of `inventory_ledger`). */
export type MovementKind =
  | 'received'
  | 'adjusted'
  | 'counted'
  | 'reserved'
  | 'backordered'
  | 'preordered'
  | 'filled'
  | 'released'
  | 'expired'
  | 'committed'
  | 'uncommitted'
  | 'shipped'
  | 'returned'
  | 'transfer_out'
  | 'transfer_in_transit'
  | 'transfer_received';

/**
 * One movement of one SKU at one location, as the Lua scripts append it to the outbox:
 * [sku, locationId, kind, dOnHand, dReserved, dCommitted, dUnavailable, dIncoming,
 *  referenceType, referenceId, reason]
 */
export type MovementTuple = [
  sku: string,
  locationId: string,
  kind: MovementKind,
  dOnHand: number,
  dReserved: number,
  dCommitted: number,
  dUnavailable: number,
  dIncoming: number,
  referenceType: string,
  referenceId: string,
  reason: string,
];

export interface Movement {
  sku: string;
  locationId: string;
  kind: MovementKind;
  onHand: number;
  reserved: number;
  committed: number;
  unavailable: number;
  incoming: number;
  /** waiting units under a backorder policy; present only when not 0 */
  backordered?: number;
  /** waiting units under a pre-order policy; present only when not 0 */
  preordered?: number;
  referenceType: string;
  referenceId: string;
  reason: string;
}

export type HoldKind = 'cart' | 'order' | 'transfer';

export type CartState = 'open' | 'converted' | 'released' | 'expired';
export type OrderState =
  | 'placed'
  | 'paid'
  | 'released'
  | 'cancelled'
  | 'fulfilled'
  /** payment.succeeded arrived before order.placed, without lines */
  | 'prepaid'
  /** payment.failed arrived before order.placed */
  | 'payfailed';
export type TransferState = 'created' | 'cancelled' | 'shipped' | 'receiving' | 'received';

export interface HoldLine {
  sku: string;
  locationId: string;
  /** units held now (reserved, not shipped) */
  held: number;
  /** units the order asked for (orders only) */
  ordered?: number;
  /** units shipped so far (orders only) */
  shipped?: number;
  /** units waiting for stock under a backorder policy; present only when not 0 */
  backordered?: number;
  /** units waiting for stock under a pre-order policy; present only when not 0 */
  preordered?: number;
}

/** A snapshot of one hold (or transfer) after the change, as mirrored to MySQL. */
export interface HoldSnapshot {
  kind: HoldKind;
  id: string;
  state: string;
  lines: HoldLine[];
  /** epoch ms; carts only */
  expiresAt?: number;
  /** increments on every change: the mirror never lets an older snapshot overwrite a newer one */
  version: number;
  /** cart → order it became; order → cart it took over */
  link?: string;
  /** orders: a payment succeeded (the hold is committed) */
  paid?: boolean;
  paymentId?: string;
  /** transfers: where from and to; `held` of a line is the quantity in transit */
  fromLocationId?: string;
  toLocationId?: string;
  /** orders: what each shipment moved, by shipment id (src/domain/shipment-record.ts) */
  shipments?: Record<string, string>;
}

export interface ShortLine {
  sku: string;
  locationId: string;
  requested: number;
  available: number;
}

export interface LowStockLine {
  sku: string;
  locationId: string;
  available: number;
  reorderLevel: number;
  reorderQuantity: number | null;
}

export interface ShortageLine {
  sku: string;
  locationId: string;
  available: number;
}

/**
 * `available` crossed zero at a SKU-location during the event (above 0 before, 0 or less
 * after, or the other way round): `inventory.availability-changed`. `locationId` absent: the
 * SKU's total across the tenant's locations crossed, from no location in stock to some
 * (`available` the units of its in-stock locations) or from some to none (`available` 0);
 * these lines follow the per-location ones, one per SKU in the order the SKU first crossed.
 */
export interface AvailabilityLine {
  sku: string;
  /** absent: the SKU's total */
  locationId?: string;
  available: number;
  /** available > 0: units on hand that a new reservation can take now */
  inStock: boolean;
}

/** What an applied event did, beyond its movements. */
export interface Outcome {
  /** applied: changed something or recorded state; rejected: business refusal; ignored: no-op by rule */
  result: 'applied' | 'rejected' | 'ignored';
  /** machine-readable reason for rejected/ignored (e.g. insufficient-stock, cart-converted) */
  reason?: string;
  short?: ShortLine[];
  /** on rejections: the cart, order or transfer that was refused */
  referenceType?: HoldKind;
  referenceId?: string;
  lowStock?: LowStockLine[];
  shortage?: ShortageLine[];
  /** zero crossings of `available`, in the order the pairs were first read */
  availability?: AvailabilityLine[];
  /** rejected/location-not-stocked: the SKU-locations the event named that are not bound */
  unstocked?: { sku: string; locationId: string }[];
  /** waiting units filled by stock this event made available, in fill order */
  filled?: FillLine[];
}

/** Waiting units of one hold at one SKU-location filled from stock on hand. */
export interface FillLine {
  referenceType: 'cart' | 'order';
  referenceId: string;
  sku: string;
  locationId: string;
  /** units filled: backordered + preordered */
  quantity: number;
  backordered: number;
  preordered: number;
}

/** A change to the tenant's locations or bindings (mirrored to `locations`, `location_skus`). */
export type NetworkChange =
  | {
      kind: 'location';
      locationId: string;
      name: string;
      priority: number;
      shipsTo: string[];
    }
  | { kind: 'binding'; sku: string; locationId: string; bound: boolean }
  /** a kit defined (components) or removed (null): mirrored to `kits` */
  | { kind: 'kit'; sku: string; components: KitComponent[] | null };

/** Names of the tenant's settings (tenant.configured). */
export const TENANT_SETTINGS = [
  'cartTtlSeconds',
  'checkoutTtlSeconds',
  'defaultReorderLevel',
] as const;
export type TenantSettingName = (typeof TENANT_SETTINGS)[number];

/**
 * A tenant's settings (tenant.configured): null where the environment's default applies;
 * `setAt`: per setting ever set or cleared, the CloudEvents time (epoch ms) of the event that
 * last did.
 */
export type TenantSettings = { [K in TenantSettingName]: number | null } & {
  setAt: Partial<Record<TenantSettingName, number>>;
};

export interface ConfigChange {
  sku: string;
  locationId: string;
  reorderLevel: number | null;
  reorderQuantity: number | null;
  policy: SellPolicy;
  /** 0 when never set */
  policyLimit: number;
  /** epoch ms */
  preorderUntil: number | null;
}

/** The payload each script appends to the tenant's outbox stream, in the same atomic step. */
export interface OutboxPayload {
  tenant: string;
  source: string;
  id: string;
  type: string;
  occurredAt: string;
  /** the tenant's Redis epoch the script ran under (see ledger/epochs) */
  epoch: number;
  outcome: Outcome;
  movements: Movement[];
  holds: HoldSnapshot[];
  config: ConfigChange[];
  /** location and binding changes (absent in payloads that have none) */
  network?: NetworkChange[];
  /** the tenant's settings after a tenant.configured that changed them (absent otherwise) */
  settings?: TenantSettings;
  /** the trace id the event came with (absent when none): processed_events.trace_id */
  traceId?: string;
  /**
   * Lines the event named as kits (absent when none): per kit and component, the component
   * units the event's kit lines came to. The mirror names the kit on those units' ledger rows.
   */
  kits?: KitTag[];
}

/** `quantity` units of component `sku` that an event's lines named as kit `kit`. */
export interface KitTag {
  kit: string;
  sku: string;
  /** absent: every unit of `sku` the event moved (a kit removed from a cart without a quantity) */
  quantity?: number;
}

/**
 * Where applied payloads become durable: the ledger mirror (LedgerWriter). `stale`: Redis was
 * reloaded under the payload; the event must be applied again.
 */
export interface LedgerSink {
  write(payload: OutboxPayload, entryId: string): Promise<'committed' | 'duplicate' | 'stale'>;
}
