import { describe, expect, it } from 'vitest';
import type { NetworkChange, OutboxPayload } from '../../src/domain/types.js';
import { latestNetwork } from '../../src/ledger/mirror-network.js';

const payload = (tenant: string, network: NetworkChange[]): OutboxPayload => ({
  tenant,
  source: '/t',
  id: 'e',
  type: 'location.upserted',
  occurredAt: '2026-11-23T10:15:00Z',
  epoch: 1,
  outcome: { result: 'applied' },
  movements: [],
  holds: [],
  config: [],
  network,
});

const loc = (locationId: string, priority: number): NetworkChange => ({
  kind: 'location',
  locationId,
  name: locationId,
  priority,
  shipsTo: [],
});

describe('latestNetwork', () => {
  it('keeps the newest change per location and per binding, whatever the batch order', () => {
    const items = [
      { payload: payload('t', [loc('b', 2)]), entryId: '1700000000002-0' },
      { payload: payload('t', [loc('b', 1), loc('a', 5)]), entryId: '1700000000001-0' },
      {
        payload: payload('t', [{ kind: 'binding', sku: 'S', locationId: 'a', bound: true }]),
        entryId: '1700000000003-0',
      },
      {
        payload: payload('t', [{ kind: 'binding', sku: 'S', locationId: 'a', bound: false }]),
        entryId: '1700000000004-0',
      },
      { payload: payload('u', [loc('b', 9)]), entryId: '1700000000000-0' },
    ];
    const { locations, bindings } = latestNetwork(items);
    expect(locations.map((l) => [l.tenant, l.change.locationId, l.change.priority])).toEqual([
      ['t', 'a', 5],
      ['t', 'b', 2],
      ['u', 'b', 9],
    ]);
    expect(bindings.map((b) => [b.tenant, b.change.sku, b.change.bound])).toEqual([
      ['t', 'S', false],
    ]);
  });
});
