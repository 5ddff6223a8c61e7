import type { Consumer } from './consumer.js';
import cartAdded from './cart-added.js';
import cartCleared from './cart-cleared.js';
import cartRemoved from './cart-removed.js';
import cartCheckoutStarted from './cart-checkout-started.js';
import tenantConfigured from './tenant-configured.js';
import orderCancelled from './order-cancelled.js';
import orderPlaced from './order-placed.js';
import orderUpdated from './order-updated.js';
import paymentFailed from './payment-failed.js';
import paymentSucceeded from './payment-succeeded.js';
import rmaPassed from './rma-passed.js';
import shipmentCreated from './shipment-created.js';
import shipmentCancelled from './shipment-cancelled.js';
import stockAdjusted from './stock-adjusted.js';
import stockConfigured from './stock-configured.js';
import stockCounted from './stock-counted.js';
import stockReceived from './stock-received.js';
import transferReceived from './transfer-received.js';
import transferShipped from './transfer-shipped.js';
import transferCreated from './transfer-created.js';
import transferCancelled from './transfer-cancelled.js';
import locationUpserted from './location-upserted.js';
import locationBound from './location-bound.js';
import locationUnbound from './location-unbound.js';
import kitDefined from './kit-defined.js';
import kitRemoved from './kit-removed.js';

const all = [
  cartAdded,
  cartRemoved,
  cartCleared,
  cartCheckoutStarted,
  orderPlaced,
  orderUpdated,
  paymentSucceeded,
  paymentFailed,
  orderCancelled,
  shipmentCreated,
  shipmentCancelled,
  rmaPassed,
  stockReceived,
  stockAdjusted,
  stockCounted,
  stockConfigured,
  transferShipped,
  transferReceived,
  transferCreated,
  transferCancelled,
  locationUpserted,
  locationBound,
  locationUnbound,
  kitDefined,
  kitRemoved,
  tenantConfigured,
] as Consumer[];

/** Every consumed event type, by `type` (also the routing key on commerce.events). */
export const consumers: ReadonlyMap<string, Consumer> = new Map(all.map((c) => [c.type, c]));
