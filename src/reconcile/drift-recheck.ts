const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Suspect<T> {
  item: T;
  /** looks taken so far after the first (a repair that lost a race looks again) */
  attempt: number;
}

/**
 * Drift found on a first look is only suspected: an event mirrored between the reads of
 * MySQL and Redis looks like drift for a moment. Suspects wait here until `delayMs` after
 * they were found, then `look` reads them again, in batches (so memory stays bounded by
 * the batch size, however much drift there is). `look` may queue suspects again.
 */
export class Recheck<T> {
  private queue: { suspect: Suspect<T>; at: number }[] = [];
  /** keys of the queued items: one suspect is looked at once (SCAN may list a key twice) */
  private readonly queued = new Set<string>();
  private flushing = false;

  constructor(
    private readonly delayMs: number,
    private readonly batchSize: number,
    private readonly keyOf: (item: T) => string,
    private readonly look: (batch: Suspect<T>[]) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  async add(item: T, attempt = 0): Promise<void> {
    const key = this.keyOf(item);
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push({ suspect: { item, attempt }, at: this.now() });
    if (this.queue.length >= this.batchSize && !this.flushing) await this.flush();
  }

  /** Looks again at everything queued (and whatever that queues again). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.batchSize);
        for (const b of batch) this.queued.delete(this.keyOf(b.suspect.item));
        const wait = batch[batch.length - 1]!.at + this.delayMs - this.now();
        if (wait > 0) await sleep(wait);
        await this.look(batch.map((b) => b.suspect));
      }
    } finally {
      this.flushing = false;
    }
  }
}
