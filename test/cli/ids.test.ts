/**
 * The CLI holds the ids it is given to the worker's rule (docs/events.md, Validation): a SKU,
 * location or reference with whitespace at an end, a zero-width or bidi control, is a usage
 * error before anything is opened. The services point at a port nobody listens on, so a
 * command that tried to publish or read would exit 69 (unreachable), not 2.
 */
import { describe, expect, test } from 'vitest';
import { printableJson } from '../../src/broker/printable.js';
import { inventory } from './run.js';

const NOWHERE = {
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:1',
  MYSQL_URL: 'mysql://root@127.0.0.1:1/nowhere',
  REDIS_URL: 'redis://127.0.0.1:1',
};

describe('inventory CLI: ids', () => {
  const cases: [string[], string][] = [
    [['stock', 'PAD '], 'sku "PAD " must not begin or end with whitespace'],
    [['history', 'PAD', '--location', '\u00a0wh'], '--location "\u00a0wh" must not begin or end'],
    [['reservations', 'cart-1\u200b'], 'reference "cart-1\u200b" must not contain zero-width'],
    [['location', 'bind', 'wh', 'TEE', 'MUG '], 'sku "MUG " must not begin or end with whitespace'],
    [['location', 'upsert', 'wh\u202e'], 'locationId "wh\\u202e" must not contain zero-width'],
    [['policy', 'PAD\u3000', 'backorder'], 'sku "PAD\u3000" must not begin or end with whitespace'],
    [['cost', ' PAD', '3'], 'sku " PAD" must not begin or end with whitespace'],
  ];
  // the names escaped: a bidi override in a test name would reorder the terminal's output
  test.each(cases.map(([args, message]) => [printableJson(args), args, message] as const))(
    'inventory %s: usage error, nothing opened',
    async (_name, args, message) => {
      const r = await inventory(args, NOWHERE);
      expect(r.stderr).toContain(message);
      expect(r.code).toBe(2);
    },
  );

  test('a good id gets as far as connecting (exit 69 here): the refusals above came first', async () => {
    const r = await inventory(['stock', 'P A D'], NOWHERE);
    expect(r.code, r.stderr).toBe(69);
  });
});
