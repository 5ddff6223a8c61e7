/**
 * Hand-built payloads of selling ahead of stock (backorders, pre-orders), as the scripts
 * append them (spec: /tmp/policy-spec.md), for testing the mirror, the load and the
 * reconciliation without depending on the scripts. One scenario, `waitingScenario`, used by
 * test/ledger and test/reconcile.
 */
import type {
  ConfigChange,
  HoldLine,
  HoldSnapshot,
  Movement,
  MovementKind,
  OutboxPayload,
} from '../../src/domain/types.js';

export const SKU = 'S';
/** a location under a backorder policy (limit 10) */
export const BACK = 'default';
/** a location under a pre-order policy (limit 5, until PRE_UNTIL) */
export const PRE = 'pre';
export const PRE_UNTIL = Date.UTC(2027, 0, 15, 12, 30, 0, 250);

let seq = 0;
/** Stream entry ids in increasing order (the mirror orders snapshots and settings by them). */
export const nextEntryId = (): string => `${Date.now()}-${++seq}`;

export function movement(
  kind: MovementKind,
  ref: [string, string],
  d: Partial<Pick<Movement, 'onHand' | 'reserved' | 'committed' | 'backordered' | 'preordered'>>,
  locationId = BACK,
): Movement {
  return {
    sku: SKU,
    locationId,
    kind,
    onHand: d.onHand ?? 0,
    reserved: d.reserved ?? 0,
    committed: d.committed ?? 0,
    unavailable: 0,
    incoming: 0,
    // present only when not 0, as the scripts write them
    ...(d.backordered ? { backordered: d.backordered } : {}),
    ...(d.preordered ? { preordered: d.preordered } : {}),
    referenceType: ref[0],
    referenceId: ref[1],
    reason: '',
  };
}

export function line(
  locationId: string,
  u: { held?: number; ordered?: number; backordered?: number; preordered?: number },
): HoldLine {
  return {
    sku: SKU,
    locationId,
    held: u.held ?? 0,
    ...(u.ordered ? { ordered: u.ordered } : {}),
    ...(u.backordered ? { backordered: u.backordered } : {}),
    ...(u.preordered ? { preordered: u.preordered } : {}),
  };
}

export const cart = (
  id: string,
  version: number,
  lines: HoldLine[],
  state = 'open',
  extra: Partial<HoldSnapshot> = {},
): HoldSnapshot => ({
  kind: 'cart',
  id,
  state,
  lines,
  version,
  ...(state === 'open' ? { expiresAt: Date.now() + 3_600_000 } : {}),
  ...extra,
});

export function policy(
  locationId: string,
  p: Pick<ConfigChange, 'policy' | 'policyLimit' | 'preorderUntil'>,
): ConfigChange {
  return { sku: SKU, locationId, reorderLevel: null, reorderQuantity: null, ...p };
}

export interface Step {
  payload: OutboxPayload;
  entryId: string;
}

/**
 * The events of the scenario, under `epoch`:
 *  1 configure: backorder (limit 10) at BACK, pre-order (limit 5, until PRE_UNTIL) at PRE
 *  2 cart A backorders 2 at BACK           queue BACK: A
 *  3 cart B backorders 1                   queue BACK: A B
 *  4 cart C backorders 1                   queue BACK: A B C
 *  5 2 units received: A filled (2)        queue BACK: B C
 *  6 cart A backorders 1 more              queue BACK: B C A
 *  7 order O placed from cart B: takes over B's waiting unit and its place (no movement)
 *                                          queue BACK: O C A
 *  8 cart D pre-orders 1 at PRE            queue PRE: D
 * Ends with BACK: onHand 2, reserved 2, backordered 3; PRE: preordered 1.
 */
export function waitingScenario(tenant: string, epoch: number): Step[] {
  let n = 0;
  const step = (type: string, p: Partial<OutboxPayload>): Step => ({
    entryId: nextEntryId(),
    payload: {
      tenant,
      source: '/shop',
      id: `w-${tenant}-${++n}`,
      type,
      occurredAt: '2026-11-23T10:15:00.000Z',
      epoch,
      outcome: { result: 'applied' },
      movements: [],
      holds: [],
      config: [],
      ...p,
    },
  });
  return [
    step('stock.configured', {
      config: [
        policy(BACK, { policy: 'backorder', policyLimit: 10, preorderUntil: null }),
        policy(PRE, { policy: 'preorder', policyLimit: 5, preorderUntil: PRE_UNTIL }),
      ],
    }),
    step('cart.added', {
      movements: [movement('backordered', ['cart', 'A'], { backordered: 2 })],
      holds: [cart('A', 1, [line(BACK, { backordered: 2 })])],
    }),
    step('cart.added', {
      movements: [movement('backordered', ['cart', 'B'], { backordered: 1 })],
      holds: [cart('B', 1, [line(BACK, { backordered: 1 })])],
    }),
    step('cart.added', {
      movements: [movement('backordered', ['cart', 'C'], { backordered: 1 })],
      holds: [cart('C', 1, [line(BACK, { backordered: 1 })])],
    }),
    step('stock.received', {
      movements: [
        movement('received', ['receipt', 'r1'], { onHand: 2 }),
        movement('filled', ['cart', 'A'], { reserved: 2, backordered: -2 }),
      ],
      holds: [cart('A', 2, [line(BACK, { held: 2 })])],
      outcome: {
        result: 'applied',
        filled: [
          {
            referenceType: 'cart',
            referenceId: 'A',
            sku: SKU,
            locationId: BACK,
            quantity: 2,
            backordered: 2,
            preordered: 0,
          },
        ],
      },
    }),
    step('cart.added', {
      movements: [movement('backordered', ['cart', 'A'], { backordered: 1 })],
      holds: [cart('A', 3, [line(BACK, { held: 2, backordered: 1 })])],
    }),
    step('order.placed', {
      holds: [
        cart('B', 2, [], 'converted', { link: 'O' }),
        {
          kind: 'order',
          id: 'O',
          state: 'placed',
          lines: [line(BACK, { ordered: 1, backordered: 1 })],
          version: 1,
          link: 'B',
        },
      ],
    }),
    step('cart.added', {
      movements: [movement('preordered', ['cart', 'D'], { preordered: 1 }, PRE)],
      holds: [cart('D', 1, [line(PRE, { preordered: 1 })])],
    }),
  ];
}
