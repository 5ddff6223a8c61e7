import { describe, expect, it } from 'vitest';
import { verdicts, type WorkloadResult } from './bench.js';
import { mergeE2e } from './merge.js';
import { eventRef, GroupCommit } from './skeleton.js';

describe('skeleton ceiling', () => {
  it('reads an event identity from a CloudEvent body, and refuses one without it', () => {
    const body = Buffer.from(
      JSON.stringify({
        specversion: '1.0',
        tenant: 't',
        source: '/s',
        id: 'e1',
        type: 'cart.added',
      }),
    );
    expect(eventRef(body)).toEqual({ tenant: 't', source: '/s', id: 'e1', type: 'cart.added' });
    expect(() => eventRef(Buffer.from('{"tenant":"t","source":"/s","type":"x"}'))).toThrow(/id/);
    expect(() => eventRef(Buffer.from('not json'))).toThrow();
  });

  it('group commit: the first ones alone, then what queued meanwhile, at most N in flight', async () => {
    const batches: number[][] = [];
    const open: (() => void)[] = [];
    let most = 0;
    const gc = new GroupCommit<number>(
      (items) =>
        new Promise<void>((resolve) => {
          batches.push(items);
          open.push(resolve);
          most = Math.max(most, gc.active);
        }),
      3,
      2,
    );
    const settled: number[] = [];
    const all = Array.from({ length: 8 }, (_, i) => gc.add(i).then(() => settled.push(i)));
    expect(batches).toEqual([[0], [1]]);
    expect(settled).toEqual([]);
    while (open.length) {
      open.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(batches).toEqual([[0], [1], [2, 3, 4], [5, 6, 7]]);
    expect(most).toBe(2);
    expect(settled.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('group commit: a failed batch rejects its items only', async () => {
    const gc = new GroupCommit<number>(
      (items) => (items.includes(1) ? Promise.reject(new Error('boom')) : Promise.resolve()),
      10,
      1,
    );
    const r = await Promise.allSettled([gc.add(0), gc.add(1), gc.add(2)]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    await expect(gc.add(3)).resolves.toBeUndefined();
  });

  it('the verdicts compare the worker with the skeleton: flash >= 0.6, mix >= 0.5', () => {
    const w = (name: 'flash' | 'mix', ratio: number): WorkloadResult => ({
      name,
      label: name,
      events: 1,
      proportions: {},
      runs: [],
      ratios: { workerOverBaseline: null, workerOverPipe: null, workerOverSkeleton: ratio },
    });
    const v = verdicts([w('flash', 0.61), w('mix', 0.49)]);
    expect(v.find((t) => t.name === 'flash sale: worker / skeleton')).toMatchObject({
      target: '>= 0.6',
      value: 0.61,
      met: true,
    });
    expect(v.find((t) => t.name === 'mix: worker / skeleton')).toMatchObject({
      target: '>= 0.5',
      value: 0.49,
      met: false,
    });
  });
});

describe('latest.json after a partial end-to-end run', () => {
  interface Run {
    target: string;
    mode?: string;
    tracing?: { spans: number };
    eventsPerSecond: number;
    carriedFrom?: { timestamp: unknown; commit: unknown };
  }
  interface Section {
    timestamp?: string;
    commit?: string;
    workloads: { name: string; runs: Run[] }[];
  }
  const run = (target: string): Run => ({ target, eventsPerSecond: 1 });
  const previous = {
    timestamp: 'T0',
    commit: 'c0',
    workloads: [
      {
        name: 'flash',
        runs: [
          run('pipe'),
          run('worker'),
          { ...run('worker'), mode: 'paced' },
          { ...run('worker'), tracing: { spans: 1 } },
          run('baseline'),
        ],
      },
      { name: 'mix', runs: [run('pipe'), run('worker')] },
    ],
  };

  it('keeps the targets and workloads it did not run, marked with the run that measured them', () => {
    const fresh: Section = {
      timestamp: 'T1',
      commit: 'c1',
      workloads: [{ name: 'flash', runs: [run('skeleton'), run('worker')] }],
    };
    const m = mergeE2e(previous, fresh);
    expect(m.commit).toBe('c1');
    const flash = m.workloads.find((w) => w.name === 'flash')!;
    expect(
      flash.runs.map((r) => [
        r.target + (r.tracing ? ' traced' : ''),
        r.mode ?? 'max',
        r.carriedFrom?.commit ?? null,
      ]),
    ).toEqual([
      ['skeleton', 'max', null],
      ['worker', 'max', null],
      ['pipe', 'max', 'c0'],
      ['worker', 'paced', 'c0'],
      ['worker traced', 'max', 'c0'],
      ['baseline', 'max', 'c0'],
    ]);
    const mix = m.workloads.find((w) => w.name === 'mix')!;
    expect(mix.runs.every((r) => r.carriedFrom?.timestamp === 'T0')).toBe(true);
  });

  it('a run carried twice keeps where it came from; no previous file: the fresh one', () => {
    const none = (timestamp: string, commit: string): Section => ({
      timestamp,
      commit,
      workloads: [],
    });
    const once = mergeE2e(previous, none('T1', 'c1'));
    const twice = mergeE2e(once, none('T2', 'c2'));
    expect(twice.workloads.flatMap((w) => w.runs.map((r) => r.carriedFrom?.commit))).toEqual(
      Array(7).fill('c0'),
    );
    const fresh: Section = { workloads: [{ name: 'flash', runs: [run('pipe')] }] };
    expect(mergeE2e(undefined, fresh)).toBe(fresh);
  });
});
