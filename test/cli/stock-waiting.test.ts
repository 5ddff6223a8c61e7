import { describe, expect, test } from 'vitest';
import { locationFigures, stockResponse } from '../../src/cli/stock.js';

describe('inventory stock: units waiting for stock and the selling policy', () => {
  test('per location from the stock hash, and totals over the locations', () => {
    const until = Date.UTC(2027, 0, 15, 12, 0, 0);
    const back = locationFigures('default', {
      onHand: '2',
      reserved: '2',
      backordered: '3',
      pol: 'backorder',
      plim: '10',
    });
    const pre = locationFigures('pre', { preordered: '1', pol: 'preorder', pto: String(until) });
    const deny = locationFigures('wh-2', { onHand: '5', reorderLevel: '1' });
    expect(back).toMatchObject({
      available: 0,
      backordered: 3,
      preordered: 0,
      policy: 'backorder',
      policyLimit: 10,
      preorderUntil: null,
    });
    expect(pre).toMatchObject({
      backordered: 0,
      preordered: 1,
      policy: 'preorder',
      policyLimit: 0,
      preorderUntil: '2027-01-15T12:00:00.000Z',
    });
    expect(deny).toMatchObject({ policy: 'deny', policyLimit: 0, preorderUntil: null });
    expect(stockResponse('t', 'S', [back, pre, deny])).toMatchObject({
      available: 5,
      reserved: 2,
      onHand: 7,
      backordered: 3,
      preordered: 1,
    });
  });
});
