/**
 * What the stream should leave behind: every message decoded as the worker decodes it, valid
 * ones applied in stream order to the pure domain model (src/domain/model*.ts), poison ones
 * set aside with the reason they must be dead-lettered with.
 */
import type { ConsumeMessage } from 'amqplib';
import { decode } from '../../../src/broker/decode.js';
import { announce } from '../../../src/domain/announcements.js';
import { InventoryModel } from '../../../src/domain/model.js';
import type { OutboxPayload } from '../../../src/domain/types.js';
import { splitPair } from '../../../src/engine/keys.js';
import type { Message } from './stream.js';

export const CART_TTL_MS = 3_600_000;
const MAX_BYTES = 256 * 1024;

export interface Figures {
  onHand: number;
  reserved: number;
  committed: number;
  unavailable: number;
  incoming: number;
}

export class Oracle {
  readonly model = new InventoryModel();
  /** valid events, by tenant: `source \x1f id` */
  readonly valid = new Map<string, Set<string>>();
  /** poison messages by message id, with the reason expected */
  readonly poison = new Map<string, RegExp>();
  /** ids of the announcements the applied events make (with `announcements: true`) */
  readonly announcements: string[] = [];
  private readonly now = Date.now();
  private notYet = 0;

  constructor(private readonly options: { announcements?: boolean } = {}) {}

  apply(m: Message): void {
    if (m.poison) {
      this.poison.set(m.messageId, m.poison);
      return;
    }
    const msg = {
      content: m.body,
      properties: { contentType: 'application/cloudevents+json', messageId: m.messageId },
      fields: { exchange: m.exchange, routingKey: m.routingKey },
    } as unknown as ConsumeMessage;
    const d = decode(msg, { maxBytes: MAX_BYTES, cartTtlMs: () => CART_TTL_MS });
    const set = this.valid.get(d.meta.tenant) ?? new Set<string>();
    set.add(`${d.meta.source}\x1f${d.meta.id}`);
    this.valid.set(d.meta.tenant, set);
    const r = this.model.apply(d.meta, d.command, this.now);
    if (r.status === 'not-yet') this.notYet++;
    if (r.status === 'applied' && this.options.announcements) {
      const payload = { ...d.meta, epoch: 0, ...r.payload } as OutboxPayload;
      for (const a of announce(payload)) this.announcements.push(a.id);
    }
  }

  applyAll(ms: Iterable<Message>): this {
    for (const m of ms) this.apply(m);
    if (this.notYet) throw new Error(`${this.notYet} events of the stream come before their cause`);
    return this;
  }

  get validCount(): number {
    let n = 0;
    for (const s of this.valid.values()) n += s.size;
    return n;
  }

  /** Non-zero figures by `sku@location`, per tenant. */
  figures(tenant: string): Record<string, Figures> {
    const out: Record<string, Figures> = {};
    for (const pair of this.model.pairs(tenant)) {
      const { sku, locationId } = splitPair(pair);
      const f = this.model.figures(sku, locationId, tenant);
      const { onHand, reserved, committed, unavailable, incoming } = f;
      const fig = { onHand, reserved, committed, unavailable, incoming };
      if (Object.values(fig).some((v) => v !== 0)) out[`${sku}@${locationId}`] = fig;
    }
    return out;
  }

  tenants(): string[] {
    return [...this.valid.keys()];
  }
}
