export { reconcile, type ReconcileDeps } from './reconcile.js';
export { DRIFT_DETECTED, RECONCILE_SOURCE, type Publish } from './announcements.js';
export type { Drift, DriftKind, ReconcileOptions, ReconcileSummary, RunStatus } from './types.js';
