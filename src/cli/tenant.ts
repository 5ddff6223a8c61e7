import type { Command } from 'commander';
import type { Config } from '../config.js';
import { DEFAULT_TENANT, TENANT_SETTINGS, type TenantSettingName } from '../domain/types.js';
import { tenantSetting } from '../domain/schemas.js';
import { readSettingsRow, SETTING_COLUMNS, type SettingsRow } from '../ledger/copy-settings.js';
import { CliError } from '../errors/cli-error.js';
import { EXIT, tenantArg } from './exit.js';
import { publishEvent, withKnex } from './locations.js';
import { printJson, printTable } from './output.js';

/** One setting as it applies to the tenant now, and where its value comes from. */
export interface SettingView {
  setting: TenantSettingName;
  /** null: none applies (defaultReorderLevel without one) */
  value: number | null;
  /** `tenant.configured`, or the environment variable the value comes from, or `none` */
  source: string;
  /** when tenant.configured last set or cleared it (its CloudEvents time), ISO */
  setAt: string | null;
}

export interface TenantView {
  tenant: string;
  settings: SettingView[];
  /** the event that last changed the tenant's settings, if any did */
  lastEvent: { source: string; id: string; recordedAt: string } | null;
}

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : null);

/** The tenant's settings (its tenant_settings row, if any) over the environment's defaults. */
export function tenantView(
  config: Config,
  tenant: string,
  row: SettingsRow | undefined,
): TenantView {
  const fallback: Record<TenantSettingName, { value: number | null; source: string }> = {
    cartTtlSeconds:
      config.CART_TTL_BY_TENANT[tenant] !== undefined
        ? { value: config.CART_TTL_BY_TENANT[tenant], source: 'CART_TTL_BY_TENANT' }
        : { value: config.CART_TTL_SECONDS, source: 'CART_TTL_SECONDS' },
    checkoutTtlSeconds: { value: config.CHECKOUT_TTL_SECONDS, source: 'CHECKOUT_TTL_SECONDS' },
    defaultReorderLevel: { value: null, source: 'none' },
  };
  const settings = TENANT_SETTINGS.map((setting): SettingView => {
    const [col, atCol] = SETTING_COLUMNS[setting];
    const v = row?.[col];
    const setAt = iso(row?.[atCol]);
    return v !== null && v !== undefined
      ? { setting, value: Number(v), source: 'tenant.configured', setAt }
      : { setting, ...fallback[setting], setAt };
  });
  return {
    tenant,
    settings,
    lastEvent: row
      ? {
          source: String(row.event_source),
          id: String(row.event_id),
          recordedAt: iso(row.updated_at) ?? '',
        }
      : null,
  };
}

/** `inventory tenant`: the tenant's settings (tenant.configured). */
export function registerTenant(program: Command, config: () => Config): void {
  const tenant = program
    .command('tenant')
    .description("the tenant's settings: cart TTL, checkout TTL, default reorder level");
  tenant
    .command('show')
    .argument('[tenant]', 'tenant', tenantArg, DEFAULT_TENANT)
    .description(
      "the tenant's settings and where each comes from (tenant.configured or the environment)",
    )
    .option('--json', 'print JSON: tenant, settings[{setting, value, source, setAt}], lastEvent')
    .action(async (t: string, o: { json?: boolean }) => {
      const c = config();
      const row = await withKnex(c, (knex) => knex.transaction((trx) => readSettingsRow(trx, t)));
      const view = tenantView(c, t, row);
      if (o.json) return printJson(view);
      printTable(view.settings as unknown as Record<string, unknown>[], [
        'setting',
        'value',
        'source',
        'setAt',
      ]);
      if (view.lastEvent)
        console.log(
          `\nlast changed by ${view.lastEvent.source} ${view.lastEvent.id} (${view.lastEvent.recordedAt})`,
        );
    });
  tenant
    .command('configure')
    .argument('[tenant]', 'tenant', tenantArg, DEFAULT_TENANT)
    .description(
      "set the tenant's settings (publishes tenant.configured); none: back to the environment's",
    )
    .option('--cart-ttl <seconds>', 'cart TTL, seconds, or none')
    .option('--checkout-ttl <seconds>', 'checkout TTL, seconds, or none')
    .option('--default-reorder-level <n>', 'reorder level of SKUs without one, or none')
    .action(
      async (
        t: string,
        o: { cartTtl?: string; checkoutTtl?: string; defaultReorderLevel?: string },
      ) => {
        const data: Record<string, number | null> = {};
        const options: [TenantSettingName, string, string | undefined][] = [
          ['cartTtlSeconds', '--cart-ttl', o.cartTtl],
          ['checkoutTtlSeconds', '--checkout-ttl', o.checkoutTtl],
          ['defaultReorderLevel', '--default-reorder-level', o.defaultReorderLevel],
        ];
        for (const [setting, flag, v] of options) {
          if (v === undefined) continue;
          if (v === 'none') {
            data[setting] = null;
            continue;
          }
          const n = /^\d+$/.test(v) ? Number(v) : NaN;
          if (!tenantSetting[setting].safeParse(n).success)
            throw new CliError(
              `${flag} must be a whole number in bounds, or none: ${v}`,
              EXIT.usage,
            );
          data[setting] = n;
        }
        if (Object.keys(data).length === 0)
          throw new CliError(
            'name at least one of --cart-ttl, --checkout-ttl, --default-reorder-level',
            EXIT.usage,
          );
        const id = await publishEvent(config(), t, 'tenant.configured', data);
        console.error(`published tenant.configured ${id}`);
      },
    );
}
