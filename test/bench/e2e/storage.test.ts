/** The bench's MySQL rows and bytes per event: what the measured events added, per event. */
import { expect, it } from 'vitest';
import { storageDelta } from './bench.js';

it('counts per event what each table gained, leaving out tables that did not grow', () => {
  const before = {
    processed_events: { rows: 100, bytes: 16_384 },
    inventory_ledger: { rows: 50, bytes: 32_768 },
    tenant_epochs: { rows: 1, bytes: 16_384 },
  };
  const after = {
    processed_events: { rows: 300, bytes: 98_304 },
    inventory_ledger: { rows: 250, bytes: 65_536 },
    tenant_epochs: { rows: 1, bytes: 16_384 },
    kits: { rows: 4, bytes: 16_384 },
  };
  expect(storageDelta(before, after, 200)).toEqual({
    rows: 2.02,
    bytes: 655,
    tables: {
      processed_events: { rows: 1, bytes: 410 },
      inventory_ledger: { rows: 1, bytes: 164 },
      kits: { rows: 0.02, bytes: 82 },
    },
  });
});
