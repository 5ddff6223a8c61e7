/**
 * The skeleton ceiling's pure parts (the child is skeleton-consumer.ts): its one-table ledger,
 * what it keeps of an event, and the group commit that turns the events of a window into one
 * multi-row INSERT.
 */

/** The skeleton's whole ledger: one row per event, unique per event (the de-duplication). */
export const SKELETON_DDL = `CREATE TABLE sk_ledger (
  id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  tenant VARCHAR(64) NOT NULL, source VARCHAR(255) NOT NULL, event_id VARCHAR(128) NOT NULL,
  type VARCHAR(64) NOT NULL, recorded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY sk_ledger_event (tenant, source, event_id))`;

/** The trivial script: one key, no command, what any script call costs at least. */
export const SKELETON_LUA = 'return 1';

/** What the skeleton keeps of an event: the fields its ledger row and announcement need. */
export interface EventRef {
  tenant: string;
  source: string;
  id: string;
  type: string;
}

/**
 * The event's identity from a CloudEvent body (JSON), without validating the rest: the least a
 * consumer of this contract must read. Throws on a body that is not such an object.
 */
export function eventRef(body: Buffer): EventRef {
  const e = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  const str = (k: string) => {
    const v = e[k];
    if (typeof v !== 'string' || v === '') throw new Error(`event without ${k}`);
    return v;
  };
  return { tenant: str('tenant'), source: str('source'), id: str('id'), type: str('type') };
}

/**
 * Group commit, as the worker's LedgerWriter does it: items queue while a batch commits; the
 * next batch takes up to `batchSize` of them; at most `concurrency` batches in flight. Each
 * item's promise settles with its batch.
 */
export class GroupCommit<T> {
  private readonly queue: { item: T; resolve: () => void; reject: (e: Error) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly commit: (items: T[]) => Promise<void>,
    private readonly batchSize = 2000,
    private readonly concurrency = 2,
  ) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  /** Batches in flight now. */
  get active(): number {
    return this.inFlight;
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      this.inFlight++;
      this.commit(batch.map((b) => b.item)).then(
        () => {
          this.inFlight--;
          for (const b of batch) b.resolve();
          this.pump();
        },
        (e: unknown) => {
          this.inFlight--;
          const err = e instanceof Error ? e : new Error(String(e));
          for (const b of batch) b.reject(err);
          this.pump();
        },
      );
    }
  }
}
