import type { AnnouncementType } from '../domain/announcement-schemas.js';

/**
 * One line per event type, for the schemas' `description` and the AsyncAPI messages' `summary`.
 * The whole rules are in docs/events.md.
 */
export const CONSUMED_SUMMARY: Record<string, string> = {
  'cart.added': 'Hold more units for a cart, if available (all or nothing); sliding cart TTL.',
  'cart.removed': "Release part of a cart's hold on a SKU (all of it without quantity).",
  'cart.cleared': "Release a cart's whole hold.",
  'cart.checkout-started':
    "The cart's hold lasts at least the checkout TTL from now; never shortened.",
  'order.placed': "The order's lines become an order hold (the cart's hold converts).",
  'order.updated':
    "The order's complete new lines: growth reserved (all or nothing), shrinkage released.",
  'payment.succeeded': "Commit the order's hold (reserve it first if it has none).",
  'payment.failed': "Release the order's hold unless a payment already succeeded.",
  'order.cancelled': 'Release every unit of the order not yet shipped.',
  'shipment.created': 'Shipped units leave: reserved and on hand drop.',
  'rma.passed': 'Returned units come back on hand (restock) or unavailable (quarantine).',
  'stock.received': 'On hand rises at a SKU-location.',
  'stock.adjusted': 'A manual change of on hand, with a reason code.',
  'stock.counted': 'A physical count sets on hand.',
  'stock.configured': 'Low-stock threshold and the policy for selling ahead of stock.',
  'transfer.created': 'A planned transfer between two locations (the record only).',
  'transfer.shipped': 'Source on hand drops, destination incoming rises.',
  'transfer.received': 'Destination incoming drops and on hand rises (all, or some lines).',
  'transfer.cancelled': 'Cancel a transfer not shipped yet.',
  'location.upserted': "Create or replace one of the tenant's locations.",
  'location.bound': 'The location stocks these SKUs.',
  'location.unbound': 'The location no longer stocks these SKUs (none on hand).',
  'kit.defined': 'Create or replace a kit: a SKU sold as a set of component SKUs.',
  'kit.removed': 'The SKU is no longer a kit (holds already taken keep their units).',
  'tenant.configured':
    "The tenant's cart TTL, checkout TTL and default reorder level (null: the environment's).",
};

export const PUBLISHED_SUMMARY: Record<AnnouncementType, string> = {
  'inventory.reserved': 'Units held for a cart or an order (for an order, its whole hold).',
  'inventory.released': 'A hold let go.',
  'inventory.expired': "A cart's hold released by its TTL.",
  'inventory.committed': "An order's hold paid.",
  'inventory.fulfilled': 'Units shipped.',
  'inventory.reservation-failed': 'A reservation refused: every short line.',
  'inventory.filled': 'Waiting units filled by arriving stock, one per hold and SKU-location.',
  'inventory.low-stock': 'available crossed down to the reorder level or below.',
  'inventory.shortage': 'An event left available below zero, and lower than before.',
  'inventory.availability-changed':
    'available crossed zero at a SKU-location: in stock (above 0) or out of stock (0 or less); without locationId, the SKU as a whole: some location in stock, or none.',
  'inventory.drift-detected': 'The reconciliation found drift: one per tenant and run.',
};
