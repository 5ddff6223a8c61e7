import type { Knex } from 'knex';

/**
 * Creates the tenant's epoch row if needed and locks it exclusively: one loader per tenant at
 * a time across every process, and no mirror of the tenant while it loads.
 * (INSERT IGNORE would also swallow real errors; the no-op update does not.)
 */
export async function lockEpochForLoad(trx: Knex.Transaction, tenant: string): Promise<number> {
  await trx.raw(
    'INSERT INTO tenant_epochs (tenant, epoch) VALUES (?, 0) ON DUPLICATE KEY UPDATE tenant = tenant',
    [tenant],
  );
  const [rows] = (await trx.raw('SELECT epoch FROM tenant_epochs WHERE tenant = ? FOR UPDATE', [
    tenant,
  ])) as [{ epoch: number | string }[]];
  const row = rows[0];
  if (!row) throw new Error(`tenant ${tenant} has no epoch row`);
  return Number(row.epoch);
}
