import fc from 'fast-check';
import { format } from 'mysql2';
import { describe, expect, it } from 'vitest';
import { queryFormat } from '../../src/ledger/db.js';
import { sqlEscape } from '../../src/ledger/sql-batch.js';
import { sqlDateTime } from '../../src/ledger/sql-time.js';
import { prng } from './harness.js';

// What the mirror's fast paths must agree with: the plain one-pass expression, and Date.
// eslint-disable-next-line no-control-regex -- these control characters are what must be escaped
const SPECIAL = /[\0\b\t\n\r\x1a'\\]/g;
const ESCAPES: Record<string, string> = {
  '\0': '\\0',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
  "'": "\\'",
  '\\': '\\\\',
};
const escaped = (v: string) => v.replace(SPECIAL, (c) => ESCAPES[c]!);
const isoDateTime = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ');

describe('SQL text', () => {
  it('escapes exactly the characters that need it, in short and long strings', () => {
    const r = prng(4242);
    const chars = ['a', 'Z', '9', ' ', '"', '%', '?', 'é', '😀', '\x01', '\x1b', '\x7f'];
    const special = Object.keys(ESCAPES);
    for (let n = 0; n < 5000; n++) {
      let v = '';
      for (let k = r.int(0, 140); k > 0; k--) {
        v += r.int(0, 9) === 0 ? r.pick(special) : r.pick(chars);
      }
      expect(sqlEscape(v)).toBe(escaped(v));
    }
    for (let c = 0; c < 0x3000; c++) {
      const v = `ab${String.fromCharCode(c)}cd`;
      expect(sqlEscape(v)).toBe(escaped(v));
    }
  });

  it('formats times as Date does, across days, years and the DATETIME range', () => {
    const r = prng(99);
    const samples = [
      0,
      -1,
      Date.UTC(1000, 0, 1),
      Date.UTC(1000, 0, 1) - 1,
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(1600, 1, 29, 12, 0, 0, 5),
      Date.UTC(2026, 10, 23, 23, 59, 59, 999),
    ];
    for (let n = 0; n < 20000; n++) samples.push(r.int(-30e12, 250e12));
    for (const ms of samples) expect(sqlDateTime(ms)).toBe(isoDateTime(ms));
  });

  it('formats a query as mysql2 does, skipping only the read of a text with nothing to fill in', () => {
    const text = fc.stringMatching(/^[?'"`\\a-z0-9 \n*/#-]*$/);
    const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean());
    fc.assert(
      fc.property(text, fc.array(value, { maxLength: 4 }), (sql, values) => {
        expect(queryFormat(sql, values, 'Z')).toBe(format(sql, values, false, 'Z'));
        expect(queryFormat(sql, [], 'Z')).toBe(sql);
        expect(queryFormat(sql, undefined, 'Z')).toBe(sql);
      }),
      { numRuns: 2000 },
    );
  });
});
