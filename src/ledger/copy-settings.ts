import { TENANT_SETTINGS, type TenantSettingName } from '../domain/types.js';
import type { CopyContext } from './copy-tenant.js';

/** Each setting's columns in tenant_settings: its value, and when it was last set or cleared. */
export const SETTING_COLUMNS: Record<TenantSettingName, [value: string, setAt: string]> = {
  cartTtlSeconds: ['cart_ttl_seconds', 'cart_ttl_set_at'],
  checkoutTtlSeconds: ['checkout_ttl_seconds', 'checkout_ttl_set_at'],
  defaultReorderLevel: ['default_reorder_level', 'default_reorder_level_set_at'],
};

/** A tenant_settings row (migration 033). */
export type SettingsRow = Record<string, number | Date | string | null>;

/** The tenant's tenant_settings row, if it has one. */
export async function readSettingsRow(
  trx: CopyContext['trx'],
  tenant: string,
): Promise<SettingsRow | undefined> {
  const [rows] = (await trx.raw('SELECT * FROM tenant_settings WHERE tenant = ?', [tenant])) as [
    SettingsRow[],
  ];
  return rows[0];
}

/**
 * The meta fields configureTenant-3.lua keeps for a tenant_settings row: `cfg:<name>` for each
 * value set, `cfgAt:<name>` (ms) for each setting ever set or cleared.
 */
export function settingsFields(row: SettingsRow): string[] {
  const out: string[] = [];
  for (const name of TENANT_SETTINGS) {
    const [col, atCol] = SETTING_COLUMNS[name];
    const v = row[col];
    const at = row[atCol];
    if (v !== null && v !== undefined) out.push(`cfg:${name}`, String(Number(v)));
    if (at instanceof Date) out.push(`cfgAt:${name}`, String(at.getTime()));
  }
  return out;
}

/**
 * Copies the tenant's settings from MySQL into its meta hash, inside the loader's transaction
 * and before the epoch is published (meta without its epoch is still a tenant not loaded).
 */
export async function copySettings(c: CopyContext): Promise<number> {
  const row = await readSettingsRow(c.trx, c.keys.tenant);
  if (!row) return 0;
  const fields = settingsFields(row);
  if (fields.length > 0) await c.redis.hset(c.keys.meta, ...fields);
  return fields.length / 2;
}
