import type { Knex } from 'knex';
import { insertMany } from '../ledger/sql-batch.js';
import { sqlDateTime } from '../ledger/sql-time.js';
import type { Drift, RunStatus } from './types.js';

const DRIFT_COLUMNS =
  'run_id, tenant, kind, sku, location_id, reference_type, reference_id, field, ledger_value, ' +
  'redis_value, stock_levels_value, reservations_value, pending_value, detail, repaired, detected_at';

const clip = (s: string | undefined, n: number) => (s === undefined ? null : s.slice(0, n));

export interface RunTotals {
  tenants: number;
  stockChecked: number;
  holdsChecked: number;
  drifts: number;
  repaired: number;
}

/** Writes a run and its drifts to reconcile_runs / reconcile_drifts (migrations 006, 007). */
export class RunRecorder {
  private constructor(
    private readonly knex: Knex,
    readonly runId: number,
    readonly startedAt: number,
  ) {}

  static async open(
    knex: Knex,
    o: { repair: boolean; tenant?: string | undefined },
    now: number,
  ): Promise<RunRecorder> {
    const [result] = (await knex.raw(
      'INSERT INTO reconcile_runs (started_at, repair, status, tenant_filter) VALUES (?, ?, ?, ?)',
      [sqlDateTime(now), o.repair ? 1 : 0, 'running', o.tenant ?? null],
    )) as [{ insertId: number }];
    return new RunRecorder(knex, Number(result.insertId), now);
  }

  async drifts(drifts: Drift[], at: number): Promise<void> {
    if (drifts.length === 0) return;
    const when = sqlDateTime(at);
    await insertMany(
      this.knex,
      `reconcile_drifts (${DRIFT_COLUMNS})`,
      drifts.map((d) => [
        this.runId,
        d.tenant,
        d.kind,
        d.sku ?? null,
        d.locationId ?? null,
        d.referenceType ?? null,
        d.referenceId ?? null,
        d.field ?? null,
        d.ledger ?? null,
        d.redis ?? null,
        d.stockLevels ?? null,
        d.reservations ?? null,
        d.pending ?? null,
        clip(d.detail, 512),
        d.repaired ? 1 : 0,
        when,
      ]),
    );
  }

  async finish(status: RunStatus, totals: RunTotals, at: number, error?: string): Promise<void> {
    await this.knex.raw(
      `UPDATE reconcile_runs SET finished_at = ?, status = ?, tenants = ?, stock_checked = ?,
              holds_checked = ?, drifts = ?, repaired = ?, error = ?
        WHERE id = ?`,
      [
        sqlDateTime(at),
        status,
        totals.tenants,
        totals.stockChecked,
        totals.holdsChecked,
        totals.drifts,
        totals.repaired,
        clip(error, 1024),
        this.runId,
      ],
    );
  }
}
