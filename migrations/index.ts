import type { Knex } from 'knex';
import * as m001 from './001_create_tenant_epochs.js';
import * as m002 from './002_create_processed_events.js';
import * as m003 from './003_create_inventory_ledger.js';
import * as m004 from './004_create_stock_levels.js';
import * as m005 from './005_create_reservations.js';
import * as m006 from './006_create_reconcile_runs.js';
import * as m007 from './007_create_reconcile_drifts.js';
import * as m010 from './010_add_processed_events_outcome.js';
import * as m011 from './011_add_inventory_ledger_event_ref.js';
import * as m012 from './012_fill_inventory_ledger_event_ref.js';
import * as m013 from './013_key_inventory_ledger_by_event_ref.js';
import * as m014 from './014_add_inventory_ledger_movement_time.js';
import * as m015 from './015_create_bi_stock_daily_changes.js';
import * as m016 from './016_create_bi_units_sold_daily.js';
import * as m017 from './017_create_bi_holds_by_state.js';
import * as m018 from './018_create_bi_shrinkage_daily.js';
import * as m020 from './020_create_locations.js';
import * as m021 from './021_create_location_skus.js';
import * as m022 from './022_create_sku_costs.js';
import * as m023 from './023_add_inventory_ledger_waiting_deltas.js';
import * as m024 from './024_add_stock_levels_sell_policy.js';
import * as m025 from './025_add_waiting_to_bi_stock_daily_changes.js';
import * as m026 from './026_add_waiting_to_bi_holds_by_state.js';
import * as m030 from './030_create_bi_accounts.js';
import * as m031 from './031_add_processed_events_trace_id.js';
import * as m032 from './032_add_reservations_shipments.js';
import * as m033 from './033_create_tenant_settings.js';
import * as m034 from './034_create_kits.js';
import * as m035 from './035_add_inventory_ledger_kit.js';

/**
 * Every migration, in order. Listed statically (not read from the folder) so the same list
 * runs under tsx, vitest and the compiled build. Append-only: never edit one that has landed.
 * One DDL statement per migration: MySQL commits DDL implicitly, so a migration with two
 * statements can half-apply.
 */
const migrations: Record<string, Knex.Migration> = {
  '001_create_tenant_epochs': m001,
  '002_create_processed_events': m002,
  '003_create_inventory_ledger': m003,
  '004_create_stock_levels': m004,
  '005_create_reservations': m005,
  '006_create_reconcile_runs': m006,
  '007_create_reconcile_drifts': m007,
  '010_add_processed_events_outcome': m010,
  '011_add_inventory_ledger_event_ref': m011,
  '012_fill_inventory_ledger_event_ref': m012,
  '013_key_inventory_ledger_by_event_ref': m013,
  '014_add_inventory_ledger_movement_time': m014,
  '015_create_bi_stock_daily_changes': m015,
  '016_create_bi_units_sold_daily': m016,
  '017_create_bi_holds_by_state': m017,
  '018_create_bi_shrinkage_daily': m018,
  '020_create_locations': m020,
  '021_create_location_skus': m021,
  '022_create_sku_costs': m022,
  '023_add_inventory_ledger_waiting_deltas': m023,
  '024_add_stock_levels_sell_policy': m024,
  '025_add_waiting_to_bi_stock_daily_changes': m025,
  '026_add_waiting_to_bi_holds_by_state': m026,
  '030_create_bi_accounts': m030,
  '031_add_processed_events_trace_id': m031,
  '032_add_reservations_shipments': m032,
  '033_create_tenant_settings': m033,
  '034_create_kits': m034,
  '035_add_inventory_ledger_kit': m035,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
