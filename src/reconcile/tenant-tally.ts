import type { RunRecorder } from './run-recorder.js';
import type { Drift, DriftKind } from './types.js';

/** One tenant's share of a run, for its `inventory.drift-detected` announcement. */
export interface TenantTally {
  tenant: string;
  drifts: number;
  repaired: number;
  byKind: Partial<Record<DriftKind, number>>;
  first: Drift[];
}

/**
 * Counts and keeps what a run reports: every confirmed drift goes to MySQL at once; only the
 * counts and the first `keep` drifts (of the run and of each tenant) stay in memory.
 */
export class RunTally {
  stockChecked = 0;
  holdsChecked = 0;
  drifts = 0;
  repaired = 0;
  readonly byKind: Partial<Record<DriftKind, number>> = {};
  readonly first: Drift[] = [];
  private tenant: TenantTally | undefined;

  constructor(
    private readonly recorder: RunRecorder,
    private readonly keep: number,
    private readonly now: () => number,
  ) {}

  startTenant(tenant: string): void {
    this.tenant = { tenant, drifts: 0, repaired: 0, byKind: {}, first: [] };
  }

  /** The tenant's tally (call after its last `report`). */
  endTenant(): TenantTally | undefined {
    const t = this.tenant;
    this.tenant = undefined;
    return t;
  }

  async report(drifts: Drift[]): Promise<void> {
    if (drifts.length === 0) return;
    await this.recorder.drifts(drifts, this.now());
    for (const d of drifts) {
      this.drifts++;
      this.byKind[d.kind] = (this.byKind[d.kind] ?? 0) + 1;
      if (d.repaired) this.repaired++;
      if (this.first.length < this.keep) this.first.push(d);
      const t = this.tenant;
      if (t) {
        t.drifts++;
        t.byKind[d.kind] = (t.byKind[d.kind] ?? 0) + 1;
        if (d.repaired) t.repaired++;
        if (t.first.length < this.keep) t.first.push(d);
      }
    }
  }
}
