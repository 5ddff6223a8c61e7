/**
 * The vocabulary of the nightly reconciliation: what it compares, what a drift is,
 * what a run reports. No I/O here.
 */

import type { DriftKind } from '../domain/announcement-schemas.js';
import { ZERO_FIGURES } from '../domain/types.js';

/** The stock figures, named as in the Redis stock hash. */
export const FIGURES = [
  'onHand',
  'reserved',
  'committed',
  'unavailable',
  'incoming',
  'backordered',
  'preordered',
] as const;
export type Figure = (typeof FIGURES)[number];
export type Figures = Record<Figure, number>;

export const zeroFigures = (): Figures => ({ ...ZERO_FIGURES });

export const isZero = (f: Figures): boolean => FIGURES.every((k) => f[k] === 0);

/** The `stock_levels` column of each figure. */
export const COLUMN: Record<Figure, string> = {
  onHand: 'on_hand',
  reserved: 'reserved',
  committed: 'committed',
  unavailable: 'unavailable',
  incoming: 'incoming',
  backordered: 'backordered',
  preordered: 'preordered',
};

/** The kinds of drift: one list, with the schema of `inventory.drift-detected`. */
export type { DriftKind };

export interface Drift {
  tenant: string;
  kind: DriftKind;
  sku?: string;
  locationId?: string;
  referenceType?: string;
  referenceId?: string;
  /** the figure or hold field that differs */
  field?: string;
  /** the ledger's value (the truth) */
  ledger?: number | null;
  /** Redis's value, less what pending outbox entries add to it */
  redis?: number | null;
  stockLevels?: number | null;
  /** what the `reservations` row says */
  reservations?: number | null;
  /** what outbox entries not mirrored yet add to the Redis value */
  pending?: number | null;
  detail?: string;
  repaired: boolean;
}

export interface ReconcileOptions {
  /** Restore stock_levels and Redis to the ledger and release leaked carts. @default false */
  repair?: boolean;
  /** Only this tenant. @default every tenant of tenant_epochs */
  tenant?: string;
  /** Keys per page (one MySQL keyset page and one Redis script call). @default 1000 */
  pageSize?: number;
  /** A drift is reported only if a second look this much later still finds it. @default 1000 */
  recheckDelayMs?: number;
  /** An open cart this long past its expiry, without a live expiry job, is leaked. @default 60000 */
  leakGraceMs?: number;
  /**
   * A tenant whose outbox is longer than this (the mirror is far behind) is compared in MySQL
   * only: Redis cannot be told apart from the entries in flight. @default 20000
   */
  maxOutboxEntries?: number;
  /** Drifts listed in each `inventory.drift-detected` announcement. @default 100 */
  announceDrifts?: number;
  /** Called as work advances; `total` is an estimate (stock rows and hold rows). */
  onProgress?: (done: number, total: number) => void;
  /** Stops the run between two pages (the run is recorded as failed). */
  signal?: AbortSignal;
  /** @default Date.now */
  now?: () => number;
}

export type RunStatus = 'running' | 'clean' | 'drift' | 'incomplete' | 'failed';

export interface ReconcileSummary {
  runId: number;
  repair: boolean;
  status: RunStatus;
  startedAt: string;
  finishedAt: string;
  tenants: number;
  stockChecked: number;
  holdsChecked: number;
  drifts: number;
  repaired: number;
  byKind: Partial<Record<DriftKind, number>>;
  /** the first drifts found (up to `announceDrifts`) */
  firstDrifts: Drift[];
  /** tenants (or parts of them) not compared, and why */
  skipped: { tenant: string; reason: string }[];
  /** tenants not loaded in Redis: compared in MySQL only (Redis loads them on their next event) */
  unloaded: string[];
}
