import { describe, expect, it } from 'vitest';
import { paces, verdicts, type RunResult, type WorkloadResult } from './bench.js';

describe('paced runs (--paced F, --rate N)', () => {
  it('pace at a fraction of the rate just sustained, then at a fixed rate; 0 leaves either out', () => {
    expect(paces({ pacedFraction: 0.5, pacedRate: 1000 }, 3000)).toEqual([
      { mode: 'paced', perSecond: 1500, label: '@50%' },
      { mode: 'rate', perSecond: 1000, label: '@1,000/s' },
    ]);
    expect(paces({ pacedFraction: 0.8 }, 2000)).toEqual([
      { mode: 'paced', perSecond: 1600, label: '@80%' },
    ]);
    expect(paces({ pacedFraction: 0, pacedRate: 1000 }, 2000)).toEqual([
      { mode: 'rate', perSecond: 1000, label: '@1,000/s' },
    ]);
    expect(paces({ pacedFraction: 0, pacedRate: 0 }, 2000)).toEqual([]);
  });
});

/** A worker run with just what the verdicts read. */
const run = (over: Partial<RunResult>): RunResult =>
  ({
    target: 'worker',
    mode: 'max',
    workers: 1,
    latency: null,
    rssMb: { peakDuringRun: 150, atEnd: 150, processPeak: 150 },
    cpuMicrosPerEvent: { own: 90, all: 300, redis: 15 },
    ...over,
  }) as RunResult;

const workload = (name: 'flash' | 'mix', runs: RunResult[]): WorkloadResult => ({
  name,
  label: name,
  events: 1,
  proportions: {},
  runs,
  ratios: { workerOverBaseline: null, workerOverPipe: null, workerOverSkeleton: null },
});

const lat = (p99Ms: number) => ({ sampled: 1, p50Ms: 1, p99Ms, maxMs: p99Ms });

describe("the verdicts: issue 17's targets from one run", () => {
  it('latency: < 250 ms at a fraction of the max, < 100 ms at the fixed rate (the mix only)', () => {
    const v = verdicts([
      workload('flash', [
        run({}),
        run({ mode: 'paced', pace: '@50%', latency: lat(260) }),
        run({ mode: 'rate', pace: '@1,000/s', latency: lat(20) }),
      ]),
      workload('mix', [
        run({}),
        run({ mode: 'paced', pace: '@50%', latency: lat(200) }),
        run({ mode: 'rate', pace: '@1,000/s', latency: lat(120) }),
      ]),
    ]);
    const by = (name: string) => v.find((t) => t.name === name);
    expect(by('flash: worker p99 ms at 50%')).toMatchObject({
      target: '< 250',
      value: 260,
      met: false,
    });
    expect(by('mix: worker p99 ms at 50%')).toMatchObject({
      target: '< 250',
      value: 200,
      met: true,
    });
    expect(by('mix: worker p99 ms at 1,000/s')).toMatchObject({
      target: '< 100',
      value: 120,
      met: false,
    });
    expect(by('flash: worker p99 ms at 1,000/s')).toBeUndefined();
  });

  it("Redis's and the worker's CPU per event, from the one-worker max-rate run", () => {
    const v = verdicts([
      workload('flash', [
        run({ cpuMicrosPerEvent: { own: 101, all: 300, redis: 20 } }),
        // neither a traced run nor a paced one counts
        run({
          tracing: { spans: 1, requests: 1, megabytes: 1 },
          cpuMicrosPerEvent: { own: 1, all: 1, redis: 1 },
        }),
        run({ mode: 'paced', pace: '@50%', cpuMicrosPerEvent: { own: 1, all: 1, redis: 1 } }),
      ]),
      workload('mix', [run({ cpuMicrosPerEvent: { own: 120, all: 300, redis: 51 } })]),
    ]);
    const by = (name: string) => v.find((t) => t.name === name);
    expect(by('flash: Redis CPU µs per event')).toMatchObject({
      target: '<= 20',
      value: 20,
      met: true,
    });
    expect(by('mix: Redis CPU µs per event')).toMatchObject({
      target: '<= 50',
      value: 51,
      met: false,
    });
    expect(by('flash: worker CPU µs per event')).toMatchObject({
      target: '<= 100',
      value: 101,
      met: false,
    });
    expect(by('mix: worker CPU µs per event')).toMatchObject({
      target: '<= 120',
      value: 120,
      met: true,
    });
  });

  it('RSS: the highest of the worker runs, paced ones included', () => {
    const v = verdicts([
      workload('mix', [
        run({}),
        run({
          mode: 'paced',
          pace: '@50%',
          rssMb: { peakDuringRun: 210, atEnd: 1, processPeak: 1 },
        }),
      ]),
    ]);
    expect(v.find((t) => t.name === 'mix: worker RSS MB')).toMatchObject({
      value: 210,
      met: false,
    });
  });

  it('a target whose run did not happen is not measured', () => {
    const v = verdicts([workload('flash', [])]);
    expect(v.find((t) => t.name === 'flash: worker CPU µs per event')).toMatchObject({
      value: null,
      met: null,
    });
    expect(v.find((t) => t.name === 'mix: worker / skeleton')).toMatchObject({
      value: null,
      met: null,
    });
  });
});
