import {
  announcementEvent,
  RECONCILE_SOURCE,
  WORKER_SOURCE,
  type Announcement,
} from '../domain/announcement-schemas.js';
import { announce } from '../domain/announcements.js';
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
export { RECONCILE_SOURCE };

/** Publishes an announcement as a CloudEvent in structured JSON mode, as the processor does. */
export function publishAnnouncement(
  publish: Publish,
  a: Announcement,
  source = WORKER_SOURCE,
): Promise<void> {
  return publish(a.type, Buffer.from(JSON.stringify(announcementEvent(a, source))), {
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
