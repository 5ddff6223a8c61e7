import type { Channel, Message } from 'amqplib';

/**
 * Batches acknowledgements for one channel: completed deliveries are acked with `multiple`
 * up to the highest tag below which everything is complete, at most every `intervalMs`.
 * Deliveries stuck behind a slow one are acked singly once they pile up.
 */
export class Acker {
  private readonly outstanding: { msg: Message; done: boolean }[] = [];
  private readonly byTag = new Map<number, { msg: Message; done: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly requeues = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly channel: Channel,
    private readonly intervalMs = 5,
    private readonly singleAckThreshold = 64,
  ) {}

  track(msg: Message): void {
    const entry = { msg, done: false };
    this.outstanding.push(entry);
    this.byTag.set(msg.fields.deliveryTag, entry);
  }

  /** The delivery's effect is durable: it may be acknowledged. */
  done(msg: Message): void {
    const entry = this.byTag.get(msg.fields.deliveryTag);
    if (!entry || this.closed) return;
    entry.done = true;
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  /**
   * The delivery could not be settled (a publish it needs was not confirmed): hand it back to
   * the broker for redelivery after `delayMs`. Until then it stays outstanding, so that a
   * multiple-ack of the deliveries completed after it can never cover it.
   */
  requeue(msg: Message, delayMs = 1000): void {
    const entry = this.byTag.get(msg.fields.deliveryTag);
    if (!entry || this.closed) return;
    const t = setTimeout(() => {
      this.requeues.delete(t);
      if (this.closed || this.byTag.get(msg.fields.deliveryTag) !== entry) return;
      this.forget(msg);
      try {
        this.channel.nack(msg, false, true);
      } catch {
        // the channel is closing: the broker redelivers it anyway
      }
      this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
    }, delayMs);
    this.requeues.add(t);
  }

  /** Forget a delivery without acking (its channel is gone, or it was settled otherwise). */
  forget(msg: Message): void {
    const entry = this.byTag.get(msg.fields.deliveryTag);
    if (!entry) return;
    this.byTag.delete(msg.fields.deliveryTag);
    const i = this.outstanding.indexOf(entry);
    if (i >= 0) this.outstanding.splice(i, 1);
  }

  flush(): void {
    this.timer = undefined;
    if (this.closed) return;
    let last: Message | undefined;
    while (this.outstanding.length && this.outstanding[0]!.done) {
      const e = this.outstanding.shift()!;
      this.byTag.delete(e.msg.fields.deliveryTag);
      last = e.msg;
    }
    if (last) this.channel.ack(last, true);
    const stuck = this.outstanding.filter((e) => e.done);
    if (stuck.length >= this.singleAckThreshold) {
      for (const e of stuck) {
        this.channel.ack(e.msg);
        this.forget(e.msg);
      }
    }
  }

  /**
   * Acks every completed delivery now, each on its own where a multiple-ack would cover one
   * still in flight; then acks nothing more (the worker is going down: what is still in flight
   * goes back to the broker with the channel).
   */
  ackCompletedAndClose(): void {
    if (this.closed) return;
    this.flush();
    for (const e of this.outstanding) if (e.done) this.channel.ack(e.msg);
    this.close();
  }

  get pending(): number {
    return this.outstanding.length;
  }

  /** The channel closed: nothing more can be acked on it (the broker redelivers the rest). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.requeues) clearTimeout(t);
    this.requeues.clear();
    this.outstanding.length = 0;
    this.byTag.clear();
  }
}
