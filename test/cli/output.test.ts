import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { progress } from '../../src/cli/output.js';

/** A stream that records what is written, claiming to be a terminal or not. */
function fakeStream(isTTY: boolean) {
  const s = new PassThrough() as PassThrough & { isTTY: boolean };
  s.isTTY = isTTY;
  const written: string[] = [];
  s.on('data', (c: Buffer) => written.push(c.toString()));
  return { stream: s as unknown as NodeJS.WriteStream, written };
}

describe('progress (src/cli/output.ts)', () => {
  test('draws a bar with counts and percent on a terminal, and ends the line', async () => {
    const { stream, written } = fakeStream(true);
    const bar = progress('checked', stream);
    bar.update(50, 200);
    bar.end();
    await new Promise((r) => setImmediate(r));
    expect(written.join('')).toBe(`\rchecked [######------------------] 50/200 25%   \n`);
  });

  test('writes nothing when not a terminal (pipes, logs, CI)', async () => {
    const { stream, written } = fakeStream(false);
    const bar = progress('checked', stream);
    bar.update(1, 2);
    bar.update(2, 2);
    bar.end();
    await new Promise((r) => setImmediate(r));
    expect(written).toEqual([]);
  });
});
