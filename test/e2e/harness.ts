/**
 * End-to-end harness: a real worker (own vhost, database, Redis prefix) plus helpers that
 * publish CloudEvents, wait for their effect and read what BI and ops see: `stock_levels`,
 * `inventory_ledger`, `processed_events`, announcements on inventory.events and the queues.
 */
import { randomBytes } from 'node:crypto';
import amqp, { type ChannelModel, type GetMessage, type Options } from 'amqplib';
import type { Knex } from 'knex';
import { expect } from 'vitest';
import {
  DLQ,
  INVENTORY_EXCHANGE,
  MAIN_QUEUE,
  RETRY_DELAYS_MS,
  retryQueueName,
} from '../../src/broker/topology.js';
import { collectAnnouncements, publishEvents, takeDeadLetters } from '../support/rabbit.js';
import {
  startTestWorker,
  waitFor,
  type TestWorker,
  type TestWorkerOptions,
} from '../support/worker.js';

export { waitFor };

/** The platform time every test event carries (occurred_at in the ledger). */
export const TIME = '2026-11-23T10:15:00.000Z';
export const SOURCE = '/test';
export const D = 'default';

export interface Ev {
  id: string;
  type: string;
  tenant: string;
  source?: string;
  time?: string;
  data: Record<string, unknown>;
  [k: string]: unknown;
}

export interface Announcement {
  type: string;
  id: string;
  tenant?: string;
  data: Record<string, unknown>;
}

export interface Figures {
  onHand: number;
  reserved: number;
  committed: number;
  unavailable: number;
  incoming: number;
  available: number;
}

export interface LedgerRow {
  sku: string;
  locationId: string;
  movement: string;
  qty: number;
  /** [onHand, reserved, committed, unavailable, incoming] */
  d: number[];
  reason: string;
  referenceType: string;
  referenceId: string;
  eventId: string;
  eventType: string;
  lineNo: number;
}

/** Expected figures; `available` is derived the way the contract defines it. */
export const fig = (
  onHand: number,
  reserved = 0,
  committed = 0,
  unavailable = 0,
  incoming = 0,
): Figures => ({
  onHand,
  reserved,
  committed,
  unavailable,
  incoming,
  available: onHand - reserved - unavailable,
});

/** Builds an expected ledger row (the event's id and type are filled in by `rowsOf`). */
export const mv = (
  sku: string,
  movement: string,
  qty: number,
  d: number[],
  referenceType: string,
  referenceId: string,
  reason = '',
  locationId = D,
): Omit<LedgerRow, 'eventId' | 'eventType' | 'lineNo'> => ({
  sku,
  locationId,
  movement,
  qty,
  d: [0, 1, 2, 3, 4].map((i) => d[i] ?? 0),
  reason,
  referenceType,
  referenceId,
});

export interface QueueCounts {
  main: number;
  dlq: number;
  retry: number;
}

export class E2E {
  private n = 0;
  private tenants = 0;
  private constructor(
    readonly t: TestWorker,
    private readonly ann:
      { events: Announcement[]; assertValid(): void; close(): Promise<void> } | undefined,
  ) {}

  static async start(
    label: string,
    overrides: Partial<Record<string, string>> = {},
    options: { announcements?: boolean; worker?: TestWorkerOptions } = {},
  ): Promise<E2E> {
    const t = await startTestWorker(label, overrides, options.worker);
    const ann = options.announcements === false ? undefined : await collectAnnouncements(t.amqpUrl);
    return new E2E(t, ann);
  }

  /** Stops the worker and removes what it made; throws if an announcement broke the contract. */
  async close(): Promise<void> {
    try {
      await this.ann?.close();
    } finally {
      await this.t.cleanup();
    }
  }

  get knex(): Knex {
    return this.t.worker.services.knex;
  }

  get url(): string {
    return this.t.amqpUrl;
  }

  /** A tenant of its own for one test: no figure of another test can leak in. */
  tenant(label = 'tn'): string {
    return `${label}${++this.tenants}${randomBytes(2).toString('hex')}`;
  }

  /** A CloudEvent with a unique id. */
  ev(tenant: string, type: string, data: Record<string, unknown>, over: Partial<Ev> = {}): Ev {
    return {
      id: `${type}-${++this.n}-${randomBytes(3).toString('hex')}`,
      type,
      tenant,
      time: TIME,
      data,
      ...over,
    };
  }

  /** Publishes to commerce.events (routing key = type), confirmed; each checked by its schema. */
  publish(...events: Ev[]): Promise<void> {
    return publishEvents(this.url, events);
  }

  /** Publishes events that break the contract on purpose (not checked by the schemas). */
  publishInvalid(...events: Ev[]): Promise<void> {
    return publishEvents(this.url, events, { invalid: true });
  }

  /** Publishes and waits until every event is recorded in processed_events. */
  async run(...events: Ev[]): Promise<void> {
    await this.publish(...events);
    await this.waitProcessed(events);
  }

  async waitProcessed(events: Ev[], timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => (await this.processedCount(events)) === events.length,
      timeoutMs,
      `${events.length} events processed`,
    );
  }

  private async processedCount(events: Ev[]): Promise<number> {
    let found = 0;
    const byTenant = new Map<string, Ev[]>();
    for (const e of events) byTenant.set(e.tenant, [...(byTenant.get(e.tenant) ?? []), e]);
    for (const [tenant, es] of byTenant) {
      const rows = (await this.knex('processed_events')
        .where({ tenant })
        .whereIn(
          ['event_source', 'event_id'],
          es.map((e) => [e.source ?? SOURCE, e.id]),
        )
        .count({ n: '*' })) as { n: number | string }[];
      found += Number(rows[0]!.n);
    }
    return found;
  }

  /** The recorded outcome of one event: result (applied/rejected/ignored) and reason. */
  async outcome(e: Ev): Promise<{ result: string; reason: string | null } | undefined> {
    return (await this.knex('processed_events')
      .where({ tenant: e.tenant, event_source: e.source ?? SOURCE, event_id: e.id })
      .first('result', 'reason')) as { result: string; reason: string | null } | undefined;
  }

  /** stock_levels of a tenant, keyed `sku@location`. */
  async levels(tenant: string): Promise<Record<string, Figures>> {
    const rows = (await this.knex('stock_levels')
      .where({ tenant })
      .select(
        'sku',
        'location_id',
        'on_hand',
        'reserved',
        'committed',
        'unavailable',
        'incoming',
        'available',
      )) as Record<string, string | number>[];
    return Object.fromEntries(
      rows.map((r) => [
        `${r.sku}@${r.location_id}`,
        {
          onHand: Number(r.on_hand),
          reserved: Number(r.reserved),
          committed: Number(r.committed),
          unavailable: Number(r.unavailable),
          incoming: Number(r.incoming),
          available: Number(r.available),
        },
      ]),
    );
  }

  async level(tenant: string, sku: string, locationId = D): Promise<Figures | undefined> {
    return (await this.levels(tenant))[`${sku}@${locationId}`];
  }

  async config(
    tenant: string,
    sku: string,
    locationId = D,
  ): Promise<{ reorderLevel: number | null; reorderQuantity: number | null }> {
    const r = (await this.knex('stock_levels')
      .where({ tenant, sku, location_id: locationId })
      .first('reorder_level', 'reorder_quantity')) as {
      reorder_level: number | null;
      reorder_quantity: number | null;
    };
    return { reorderLevel: r.reorder_level, reorderQuantity: r.reorder_quantity };
  }

  /** Ledger rows of a tenant (optionally of some events), in insertion order. */
  async ledger(tenant: string, events?: Ev[]): Promise<LedgerRow[]> {
    let q = this.knex('inventory_ledger').where({ tenant });
    if (events)
      q = q.whereIn(
        'event_id',
        events.map((e) => e.id),
      );
    const rows = (await q.orderBy('id').select('*')) as Record<string, unknown>[];
    return rows.map((r) => ({
      sku: String(r.sku),
      locationId: String(r.location_id),
      movement: String(r.movement),
      qty: Number(r.qty),
      d: [
        r.on_hand_delta,
        r.reserved_delta,
        r.committed_delta,
        r.unavailable_delta,
        r.incoming_delta,
      ].map(Number),
      reason: String(r.reason),
      referenceType: String(r.reference_type),
      referenceId: String(r.reference_id),
      eventId: String(r.event_id),
      eventType: String(r.event_type),
      lineNo: Number(r.line_no),
    }));
  }

  /** Asserts the ledger rows of one event, exactly and in line order. */
  async expectRows(e: Ev, rows: ReturnType<typeof mv>[]): Promise<void> {
    expect(await this.ledger(e.tenant, [e])).toEqual(
      rows.map((r, lineNo) => ({ ...r, eventId: e.id, eventType: e.type, lineNo })),
    );
  }

  /** Asserts stock_levels equals the sums of the ledger, for every SKU and location of the tenant. */
  async expectLedgerMatchesLevels(tenant: string): Promise<void> {
    const [sums] = (await this.knex.raw(
      `SELECT sku, location_id, SUM(on_hand_delta) AS on_hand, SUM(reserved_delta) AS reserved,
              SUM(committed_delta) AS committed, SUM(unavailable_delta) AS unavailable,
              SUM(incoming_delta) AS incoming
         FROM inventory_ledger WHERE tenant = ? GROUP BY sku, location_id`,
      [tenant],
    )) as [Record<string, string | number>[]];
    const fromLedger = Object.fromEntries(
      sums.map((r) => [
        `${r.sku}@${r.location_id}`,
        fig(
          Number(r.on_hand),
          Number(r.reserved),
          Number(r.committed),
          Number(r.unavailable),
          Number(r.incoming),
        ),
      ]),
    );
    const levels = await this.levels(tenant);
    // rows created only by stock.configured have no movement: all zero
    for (const [k, v] of Object.entries(levels)) if (!(k in fromLedger)) expect(v).toEqual(fig(0));
    for (const k of Object.keys(fromLedger)) expect(levels[k], k).toEqual(fromLedger[k]);
  }

  /** Every announcement received so far that was caused by `e`. */
  announcementsOf(e: Ev): Announcement[] {
    if (!this.ann) throw new Error('announcements are not collected in this file');
    this.ann.assertValid();
    return this.ann.events.filter((a) => a.data.causationId === e.id && a.tenant === e.tenant);
  }

  async waitAnnouncements(e: Ev, n: number): Promise<Announcement[]> {
    await waitFor(
      () => this.announcementsOf(e).length >= n,
      10_000,
      `${n} announcement(s) of ${e.type} ${e.id}`,
    );
    return this.announcementsOf(e);
  }

  /** Ready messages in the main queue, the DLQ and all retry tiers. */
  async queueCounts(): Promise<QueueCounts> {
    const conn = await amqp.connect(this.url);
    try {
      const ch = await conn.createChannel();
      const main = (await ch.checkQueue(MAIN_QUEUE)).messageCount;
      const dlq = (await ch.checkQueue(DLQ)).messageCount;
      let retry = 0;
      for (const d of RETRY_DELAYS_MS)
        retry += (await ch.checkQueue(retryQueueName(d))).messageCount;
      return { main, dlq, retry };
    } finally {
      await conn.close();
    }
  }

  /** Waits until nothing is queued or in flight (checked several times in a row). */
  async quiesce(timeoutMs = 20_000): Promise<void> {
    let calm = 0;
    await waitFor(
      async () => {
        const c = await this.queueCounts();
        const w = this.t.worker;
        // unacked: a delivery given back for redelivery later is neither queued nor in flight
        const idle =
          c.main === 0 && c.retry === 0 && w.processor.active === 0 && w.broker.unacked === 0;
        calm = idle ? calm + 1 : 0;
        return calm >= 4;
      },
      timeoutMs,
      'queues drained and worker idle',
    );
  }

  /** Publishes raw bytes (to test what the worker refuses). */
  async publishRaw(
    items: { exchange?: string; routingKey: string; body: Buffer; options?: Options.Publish }[],
  ): Promise<void> {
    const conn = await amqp.connect(this.url);
    try {
      const ch = await conn.createConfirmChannel();
      for (const i of items)
        ch.publish(i.exchange ?? 'commerce.events', i.routingKey, i.body, {
          persistent: true,
          ...i.options,
        });
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
  }

  /** Removes and returns every message in the DLQ. */
  takeDeadLetters(): Promise<GetMessage[]> {
    return takeDeadLetters(this.url);
  }
}

/** The body publishEvents sends for an event (to compare dead letters byte for byte). */
export const bodyOf = (e: Ev): Buffer =>
  Buffer.from(JSON.stringify({ specversion: '1.0', source: SOURCE, ...e }));

/** A connection with `queue` (exclusive to it) bound to every announcement on inventory.events. */
export async function boundAnnouncementQueue(url: string, queue: string): Promise<ChannelModel> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.assertQueue(queue, { exclusive: true });
  await ch.bindQueue(queue, INVENTORY_EXCHANGE, '#');
  await ch.close();
  return conn;
}

/**
 * The first `n` announcements of `e` as they were published, envelope and AMQP headers, from a
 * queue of `boundAnnouncementQueue` (announcements of other events are taken and dropped).
 */
export async function rawAnnouncementsOf(
  conn: ChannelModel,
  queue: string,
  e: Ev,
  n: number,
): Promise<{ body: Record<string, unknown>; headers: Record<string, unknown> }[]> {
  const ch = await conn.createChannel();
  const found: GetMessage[] = [];
  try {
    await waitFor(
      async () => {
        for (let m = await ch.get(queue); m; m = await ch.get(queue)) {
          ch.ack(m);
          const body = JSON.parse(m.content.toString()) as { data: { causationId: string } };
          if (body.data.causationId === e.id) found.push(m);
        }
        return found.length >= n;
      },
      10_000,
      `${n} announcement(s) of ${e.id}`,
    );
  } finally {
    await ch.close();
  }
  return found.map((m) => ({
    body: JSON.parse(m.content.toString()) as Record<string, unknown>,
    headers: m.properties.headers ?? {},
  }));
}
