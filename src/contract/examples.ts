import type { AnnouncementData, AnnouncementType } from '../domain/announcement-schemas.js';

/**
 * One example `data` per event type, shown in docs/asyncapi.yaml. The contract test validates
 * each against its schema, and the worker applies each consumed one.
 */
export const CONSUMED_EXAMPLES: Record<string, Record<string, unknown>> = {
  'cart.added': { cartId: 'cart-42', sku: 'SNK-AIR-1-9-BLK', quantity: 2 },
  'cart.removed': { cartId: 'cart-42', sku: 'SNK-AIR-1-9-BLK', quantity: 1 },
  'cart.cleared': { cartId: 'cart-42' },
  'cart.checkout-started': { cartId: 'cart-42', ttlSeconds: 1200 },
  'order.placed': {
    orderId: 'order-1001',
    cartId: 'cart-42',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', quantity: 2 }],
    shippingAddress: { country: 'US', region: 'CA', postalCode: '94103' },
  },
  'order.updated': {
    orderId: 'order-1001',
    lines: [
      { sku: 'SNK-AIR-1-9-BLK', quantity: 3 },
      { sku: 'SNK-RUN-2-10-WHT', quantity: 1, locationId: 'wh-east' },
    ],
  },
  'payment.succeeded': { orderId: 'order-1001', paymentId: 'pay-77' },
  'payment.failed': { orderId: 'order-1001', paymentId: 'pay-78' },
  'order.cancelled': { orderId: 'order-1001', reason: 'customer-request' },
  'shipment.created': {
    shipmentId: 'ship-5',
    orderId: 'order-1001',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', quantity: 2, locationId: 'wh-east' }],
  },
  'rma.passed': {
    rmaId: 'rma-9',
    orderId: 'order-1001',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', quantity: 1, disposition: 'restock' }],
  },
  'stock.received': {
    sku: 'SNK-AIR-1-9-BLK',
    quantity: 50,
    locationId: 'wh-east',
    reference: 'PO-2026-118',
  },
  'stock.adjusted': { sku: 'SNK-AIR-1-9-BLK', delta: -2, reason: 'damaged', locationId: 'wh-east' },
  'stock.counted': { sku: 'SNK-AIR-1-9-BLK', onHand: 47, locationId: 'wh-east' },
  'stock.configured': {
    sku: 'SNK-PRE-2',
    locationId: 'wh-east',
    reorderLevel: 10,
    reorderQuantity: 100,
    policy: 'preorder',
    policyLimit: 500,
    preorderUntil: '2027-03-01T00:00:00Z',
  },
  'transfer.created': {
    transferId: 'tr-3',
    fromLocationId: 'wh-east',
    toLocationId: 'store-nyc',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', quantity: 10 }],
  },
  'transfer.shipped': {
    transferId: 'tr-3',
    fromLocationId: 'wh-east',
    toLocationId: 'store-nyc',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', quantity: 10 }],
  },
  'transfer.received': { transferId: 'tr-3', lines: [{ sku: 'SNK-AIR-1-9-BLK', quantity: 6 }] },
  'transfer.cancelled': { transferId: 'tr-4', reason: 'not-needed' },
  'location.upserted': {
    locationId: 'wh-east',
    name: 'East warehouse',
    priority: 10,
    shipsTo: ['US', 'CA'],
  },
  'location.bound': { locationId: 'wh-east', skus: ['SNK-AIR-1-9-BLK', 'SNK-PRE-2'] },
  'location.unbound': { locationId: 'store-nyc', skus: ['SNK-PRE-2'] },
  'kit.defined': {
    sku: 'KIT-RUN-STARTER',
    components: [
      { sku: 'SNK-RUN-2-10-WHT', quantity: 1 },
      { sku: 'SOCK-RUN-3PK', quantity: 2 },
    ],
  },
  'kit.removed': { sku: 'KIT-RUN-STARTER' },
  'tenant.configured': { cartTtlSeconds: 1800, checkoutTtlSeconds: null },
};

const cause = (type: string, id: string) => ({
  causationId: id,
  causationSource: '/shop/checkout',
  causationType: type,
});

export const PUBLISHED_EXAMPLES: { [T in AnnouncementType]: AnnouncementData<T> } = {
  'inventory.reserved': {
    ...cause('cart.added', 'add-1'),
    referenceType: 'cart',
    referenceId: 'cart-42',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', locationId: 'wh-east', quantity: 2 }],
  },
  'inventory.released': {
    ...cause('payment.failed', 'pf-1'),
    referenceType: 'order',
    referenceId: 'order-1001',
    reason: 'payment-failed',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', locationId: 'wh-east', quantity: 2 }],
  },
  'inventory.expired': {
    causationId: 'cart-5f0c3a1e9d2b7c4a8e61-1795439700000',
    causationSource: '/inventory-worker/cart-expiry',
    causationType: 'cart.expired',
    referenceType: 'cart',
    referenceId: 'cart-42',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', locationId: 'wh-east', quantity: 2 }],
  },
  'inventory.committed': {
    ...cause('payment.succeeded', 'ps-1'),
    referenceType: 'order',
    referenceId: 'order-1001',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', locationId: 'wh-east', quantity: 2 }],
  },
  'inventory.fulfilled': {
    ...cause('shipment.created', 'sh-1'),
    referenceType: 'order',
    referenceId: 'order-1001',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', locationId: 'wh-east', quantity: 2 }],
  },
  'inventory.reservation-failed': {
    ...cause('cart.added', 'add-2'),
    reason: 'insufficient-stock',
    referenceType: 'cart',
    referenceId: 'cart-43',
    lines: [{ sku: 'SNK-AIR-1-9-BLK', locationId: 'wh-east', requested: 5, available: 3 }],
  },
  'inventory.filled': {
    ...cause('stock.received', 'rcv-2'),
    referenceType: 'order',
    referenceId: 'order-1002',
    orderId: 'order-1002',
    sku: 'SNK-PRE-2',
    locationId: 'wh-east',
    quantity: 3,
    backordered: 0,
    preordered: 3,
  },
  'inventory.low-stock': {
    ...cause('order.placed', 'op-1'),
    sku: 'SNK-AIR-1-9-BLK',
    locationId: 'wh-east',
    available: 8,
    reorderLevel: 10,
    reorderQuantity: 100,
  },
  'inventory.shortage': {
    ...cause('stock.counted', 'cnt-1'),
    sku: 'SNK-AIR-1-9-BLK',
    locationId: 'wh-east',
    available: -1,
  },
  'inventory.availability-changed': {
    ...cause('stock.received', 'rcv-7'),
    sku: 'SNK-AIR-1-9-BLK',
    locationId: 'wh-east',
    available: 24,
    inStock: true,
  },
  'inventory.drift-detected': {
    causationId: 'run-12',
    causationSource: '/inventory-worker/reconcile',
    causationType: 'reconcile.run',
    runId: 12,
    repair: false,
    drifts: 1,
    repaired: 0,
    byKind: { 'stock-levels-vs-ledger': 1 },
    truncated: false,
    items: [
      {
        kind: 'stock-levels-vs-ledger',
        sku: 'SNK-AIR-1-9-BLK',
        locationId: 'wh-east',
        field: 'reserved',
        ledger: 2,
        stockLevels: 3,
        repaired: false,
      },
    ],
  },
};
