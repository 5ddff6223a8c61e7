import { describe, expect, it } from 'vitest';
import {
  pacedLabel,
  pacedPerSecond,
  verdicts,
  type RunResult,
  type WorkloadResult,
} from './bench.js';

describe('paced runs (--paced F, --rate N)', () => {
  it('pace at a fraction of the rate just sustained, or at a fixed rate when one is given', () => {
    expect(pacedPerSecond({ pacedFraction: 0.8 }, 2000)).toBe(1600);
    expect(pacedPerSecond({ pacedFraction: 0 }, 2000)).toBe(0);
    expect(pacedPerSecond({ pacedFraction: 0.8, pacedRate: 1000 }, 2000)).toBe(1000);
    expect(pacedPerSecond({ pacedFraction: 0, pacedRate: 1000 }, 2000)).toBe(1000);
  });

  it('name the run by its fraction or its rate', () => {
    expect(pacedLabel({ pacedFraction: 0.5 })).toBe('@50%');
    expect(pacedLabel({ pacedFraction: 0.8, pacedRate: 1000 })).toBe('@1,000/s');
  });

  it('the latency verdict: < 250 ms at a fraction, < 100 ms at a fixed rate', () => {
    const w = (p99Ms: number): WorkloadResult => ({
      name: 'mix',
      label: 'mix',
      events: 1,
      proportions: {},
      runs: [
        {
          target: 'worker',
          mode: 'paced',
          latency: { sampled: 1, p50Ms: 1, p99Ms, maxMs: 1 },
          rssMb: { peakDuringRun: 1, atEnd: 1, processPeak: 1 },
        },
      ] as RunResult[],
      ratios: { workerOverBaseline: null, workerOverPipe: null, workerOverSkeleton: null },
    });
    expect(verdicts([w(200)]).find((t) => t.name === 'mix: worker p99 ms at 80%')).toMatchObject({
      target: '< 250',
      value: 200,
      met: true,
    });
    const fixed = verdicts([w(120)], { pacedFraction: 0.8, pacedRate: 1000 });
    expect(fixed.find((t) => t.name === 'mix: worker p99 ms at 1,000/s')).toMatchObject({
      target: '< 100',
      value: 120,
      met: false,
    });
  });
});
