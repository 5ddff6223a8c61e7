import { announce, type Announcement } from '../domain/announcements.js';
import type { OutboxPayload } from '../domain/types.js';
import type { TenantTally } from './tenant-tally.js';

/**
 * Publishes one message on `inventory.events` with the routing key given and resolves once the
 * broker confirmed it. The worker passes its broker's confirmed publishing; the CLI a
 * connection of its own.
 */
export type Publish = (
  routingKey: string,
  content: Buffer,
  options: { contentType: string; messageId: string; type: string },
) => Promise<void>;

export const DRIFT_DETECTED = 'inventory.drift-detected';
export const RECONCILE_SOURCE = '/inventory-worker/reconcile';

/** Publishes an announcement as a CloudEvent in structured JSON mode, as the processor does. */
export function publishAnnouncement(
  publish: Publish,
  a: Announcement,
  source = '/inventory-worker',
): Promise<void> {
  const body = {
    specversion: '1.0',
    id: a.id,
    source,
    type: a.type,
    time: a.time,
    tenant: a.tenant,
    datacontenttype: 'application/json',
    data: a.data,
  };
  return publish(a.type, Buffer.from(JSON.stringify(body)), {
    contentType: 'application/cloudevents+json',
    messageId: a.id,
    type: a.type,
  });
}

/** What an applied payload announces (a released leak: `inventory.expired`), all confirmed. */
export async function publishPayload(publish: Publish, p: OutboxPayload): Promise<void> {
  await Promise.all(announce(p).map((a) => publishAnnouncement(publish, a)));
}

/**
 * One `inventory.drift-detected` per tenant with drift: the run, counts by kind and the first
 * drifts (the rest are in reconcile_drifts under the run id). Per tenant, because integrations
 * consume their own tenant's events only.
 */
export function driftAnnouncement(
  runId: number,
  repair: boolean,
  t: TenantTally,
  time: string,
): Announcement {
  return {
    type: DRIFT_DETECTED,
    id: `${RECONCILE_SOURCE}#run-${runId}#${t.tenant}`,
    tenant: t.tenant,
    time,
    data: {
      // as every announcement names what caused it: here the run
      causationId: `run-${runId}`,
      causationSource: RECONCILE_SOURCE,
      causationType: 'reconcile.run',
      runId,
      repair,
      drifts: t.drifts,
      repaired: t.repaired,
      byKind: t.byKind,
      truncated: t.drifts > t.first.length,
      items: t.first.map(({ tenant: _t, ...d }) => d),
    },
  };
}
