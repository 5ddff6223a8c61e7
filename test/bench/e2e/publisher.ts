import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { COMMERCE_EXCHANGE } from '../../../src/broker/topology.js';
import type { BenchEvent } from './workloads.js';

/** The tenant of every benchmark event. */
export const BENCH_TENANT = 'bench';

/** Most publishes awaiting their confirm at once (a platform's publisher with a window). */
const CONFIRM_WINDOW = 1000;

/** The wall-clock time in milliseconds, sub-millisecond, comparable across processes. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/**
 * Publishes CloudEvents to commerce.events with publisher confirms, as a platform would, and
 * remembers when each was handed to the client (the start of its publish-to-ledger latency).
 */
export class BenchPublisher {
  readonly publishedAt = new Map<string, number>();
  private outstanding = 0;
  private failed: Error | undefined;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly conn: ChannelModel,
    private readonly ch: ConfirmChannel,
    private readonly source: string,
  ) {}

  static async open(url: string, source = '/bench'): Promise<BenchPublisher> {
    const conn = await amqp.connect(url);
    const ch = await conn.createConfirmChannel();
    return new BenchPublisher(conn, ch, source);
  }

  private publishOne(e: BenchEvent): boolean {
    const body = Buffer.from(
      JSON.stringify({ specversion: '1.0', source: this.source, tenant: BENCH_TENANT, ...e }),
    );
    this.outstanding++;
    this.publishedAt.set(e.id, nowMs());
    return this.ch.publish(
      COMMERCE_EXCHANGE,
      e.type,
      body,
      { persistent: true, messageId: e.id, contentType: 'application/cloudevents+json' },
      (err) => {
        if (err) this.failed ??= new Error(`publish of ${e.id} not confirmed`, { cause: err });
        this.outstanding--;
        if (this.outstanding < CONFIRM_WINDOW) for (const w of this.waiters.splice(0)) w();
      },
    );
  }

  private async room(): Promise<void> {
    while (this.outstanding >= CONFIRM_WINDOW) {
      await new Promise<void>((r) => this.waiters.push(r));
    }
    if (this.failed) throw this.failed;
  }

  /** As fast as confirms allow (at most CONFIRM_WINDOW unconfirmed). */
  async publishAll(events: BenchEvent[]): Promise<void> {
    for (const e of events) {
      await this.room();
      if (!this.publishOne(e)) await new Promise((r) => this.ch.once('drain', r));
    }
    await this.ch.waitForConfirms();
    if (this.failed) throw this.failed;
  }

  /** At `perSecond` on average, in 10 ms ticks (never ahead of schedule). */
  async publishPaced(events: BenchEvent[], perSecond: number): Promise<void> {
    const start = nowMs();
    let i = 0;
    while (i < events.length) {
      const due = Math.min(events.length, Math.floor(((nowMs() - start) / 1000) * perSecond) + 1);
      while (i < due) {
        await this.room();
        if (!this.publishOne(events[i++]!)) await new Promise((r) => this.ch.once('drain', r));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await this.ch.waitForConfirms();
    if (this.failed) throw this.failed;
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}
