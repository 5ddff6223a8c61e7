import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import type { OutboxPayload } from '../domain/types.js';
import { TenantKeys } from '../engine/keys.js';
import { toError } from '../errors/to-error.js';
import type { Logger } from '../logger.js';
import { isEntryId } from './change-seq.js';
import { commitBatch, type MirrorResult } from './commit-batch.js';
import type { MirrorItem } from './mirror-rows.js';
import { isConnectionError, isLockConflict } from './mysql-errors.js';

export type WriteResult = MirrorResult;

export interface LedgerWriterOptions {
  /**
   * A pool of its own opened with createKnex's `multipleStatements`: a commit then sends its
   * INSERTs in one query (without it, one each).
   */
  knex: Knex;
  redis: RedisClient;
  /** Redis key prefix of the engine (to delete mirrored outbox entries). */
  prefix: string;
  logger: Logger;
  /** Most events in one transaction (config LEDGER_BATCH_SIZE). @default 2000 */
  batchSize?: number;
  /** Longest wait between two attempts while MySQL is away. @default 5000 */
  maxBackoffMs?: number;
  /**
   * Transactions in flight at once, the second only beside a backlog (see `pump`). With 2, one
   * batch is built and sent while the other is in MySQL, which uses both of a small machine's
   * cores. Batches may then commit out of order, which every guarantee allows: ledger rows are
   * unique per event and line and stock sums commute; snapshots and settings are guarded by their
   * change sequence; each transaction holds its tenants' epoch rows shared, so a load waits for
   * both; rows of stock_levels and reservations are locked in one key order (a deadlock, say with
   * a configuration in both, is retried). Ledger ids are allocated at insert, so with 2 (as with
   * two workers) a row with a higher id may become visible before one with a lower id. @default 2
   */
  concurrency?: number;
}

interface Pending extends MirrorItem {
  /** 1 for the writer's first write, and so on (what `flush` waits for) */
  seq: number;
  /** what its transaction made of it, once that committed */
  result?: WriteResult;
  settled: boolean;
  resolve: (r: WriteResult) => void;
  reject: (e: Error) => void;
}

/** A `flush` call: waits for the `remaining` unsettled writes of seq up to `upTo`. */
interface FlushWaiter {
  upTo: number;
  remaining: number;
  resolve: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes queued that start a transaction beside one in flight (see `pump`). At full speed a
 * transaction takes hundreds; at 1,000 events/s a few arrive while one commits.
 */
export const BACKLOG = 64;

/**
 * Group commit of payloads to MySQL. Writes queue up while one transaction commits; the next
 * transaction takes up to `batchSize` of them. A payload's promise resolves once its effect is
 * committed (`committed`), was committed before (`duplicate`), or can never be because Redis
 * was reloaded under it (`stale`: apply the event again). While MySQL is unreachable the
 * batch is retried, in order, until it is back.
 */
export class LedgerWriter {
  private readonly queue: Pending[] = [];
  private readonly batchSize: number;
  private readonly maxBackoffMs: number;
  private readonly log: Logger;
  private readonly concurrency: number;
  private inFlight = 0;
  private closed = false;
  /** writes made, and of them not settled yet (counters, not a promise per write: cheap) */
  private writes = 0;
  private unsettled = 0;
  private readonly waiters: FlushWaiter[] = [];
  private isHealthy = true;
  /** deletes of mirrored outbox entries under way (off the writes' path) */
  private readonly deleting = new Set<Promise<void>>();

  constructor(private readonly o: LedgerWriterOptions) {
    this.batchSize = o.batchSize ?? 2000;
    this.maxBackoffMs = o.maxBackoffMs ?? 5000;
    this.concurrency = o.concurrency ?? 2;
    this.log = o.logger.child({ component: 'ledger-writer' });
  }

  /** False while MySQL cannot be reached (writes wait, nothing is lost). */
  get healthy(): boolean {
    return this.isHealthy;
  }

  /** Transactions in flight. */
  get transactions(): number {
    return this.inFlight;
  }

  /** Writes not settled yet. */
  get pending(): number {
    return this.unsettled;
  }

  write(payload: OutboxPayload, entryId: string): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new Error('ledger writer is closed'));
    if (!isEntryId(entryId)) {
      return Promise.reject(new Error(`not an outbox entry id: ${JSON.stringify(entryId)}`));
    }
    const seq = ++this.writes;
    this.unsettled++;
    const written = new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ payload, entryId, seq, settled: false, resolve, reject });
    });
    this.pump();
    return written;
  }

  /**
   * Resolves once every write made before the call is settled, and the outbox entries of
   * those committed so far are deleted.
   */
  async flush(): Promise<void> {
    if (this.unsettled > 0) {
      await new Promise<void>((resolve) => {
        this.waiters.push({ upTo: this.writes, remaining: this.unsettled, resolve });
      });
    }
    await Promise.all(this.deleting);
  }

  /** Settles a write once (and the flushes waiting for it). */
  private settle(p: Pending, outcome: WriteResult | Error): void {
    if (p.settled) return;
    p.settled = true;
    this.unsettled--;
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.upTo >= p.seq && --w.remaining === 0) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Flushes, then refuses new writes. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /**
   * Starts transactions while there is work and room; each takes what has queued up. A second
   * one starts beside the first only once a backlog has queued (BACKLOG writes): below that,
   * the writes wait for the transaction in flight and go together in the next, so a moderate
   * load does not pay a transaction's round trips and log flush for every two or three events.
   */
  private pump(): void {
    while (
      this.queue.length > 0 &&
      this.inFlight < this.concurrency &&
      (this.inFlight === 0 || this.queue.length >= BACKLOG)
    ) {
      const batch = this.queue.splice(0, this.batchSize);
      this.inFlight++;
      void this.commit(batch)
        .catch((err: unknown) => {
          // commit settles every write itself; this is a bug, and the writes must not hang
          const error = toError(err);
          this.log.error({ err: error }, 'ledger batch failed unexpectedly');
          batch.forEach((p) => p.result === undefined && this.settle(p, error));
        })
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }

  /** Commits a batch, retrying while MySQL is away; a bad payload is isolated by halving. */
  private async commit(batch: Pending[]): Promise<void> {
    let results: MirrorResult[];
    try {
      results = await this.commitRetrying(batch);
    } catch (err) {
      const error = toError(err);
      if (batch.length === 1) {
        this.log.error({ err: error, ...describe(batch[0]!) }, 'payload cannot be mirrored');
        this.settle(batch[0]!, error);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.commit(batch.slice(0, half));
      await this.commit(batch.slice(half));
      return;
    }
    // The transaction is over: each write resolves now, and its entry leaves the outbox
    // meanwhile (a clean-up: an entry left there is mirrored again as a duplicate, by a
    // redelivery or the sweeper). `flush` and `close` wait for these deletes too.
    batch.forEach((p, i) => {
      p.result = results[i]!;
      this.settle(p, p.result);
    });
    const deleting = this.deleteEntries(batch, results).then(() => {
      this.deleting.delete(deleting);
    });
    this.deleting.add(deleting);
  }

  /** Throws only errors that retrying cannot cure. */
  private async commitRetrying(batch: Pending[]): Promise<MirrorResult[]> {
    let backoff = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await commitBatch(this.o.knex, batch, this.withdrawEpoch);
        if (!this.isHealthy) {
          this.isHealthy = true;
          this.log.info({ attempt }, 'MySQL reachable again; ledger mirror resumed');
        }
        return results;
      } catch (err) {
        const error = toError(err);
        if (isConnectionError(error)) {
          if (this.isHealthy) this.isHealthy = false;
          this.log.warn(
            { err: error, attempt, events: batch.length, retryInMs: backoff },
            'MySQL unreachable; ledger batch kept for retry',
          );
        } else if (isLockConflict(error)) {
          this.log.warn(
            { err: error, attempt, events: batch.length },
            'ledger batch hit a lock conflict; retrying',
          );
        } else {
          throw error;
        }
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
      }
    }
  }

  /**
   * Redis runs on an epoch MySQL never committed (its load died between writing meta and
   * committing): every payload would be stale for ever. Deleting meta makes the next event
   * load the tenant again. Safe here: our shared lock on the epoch row keeps loaders out.
   */
  private readonly withdrawEpoch = async (tenant: string, epoch: number): Promise<void> => {
    const meta = new TenantKeys(this.o.prefix, tenant).meta;
    try {
      if ((await this.o.redis.hget(meta, 'epoch')) !== String(epoch)) return;
      this.log.error(
        { tenant, epoch },
        'Redis runs on an epoch MySQL does not have; dropping it to reload',
      );
      await this.o.redis.del(meta);
    } catch (err) {
      // the payloads are stale either way; the next one of that epoch tries again
      this.log.warn(
        { err: toError(err), tenant, epoch },
        'could not drop an epoch MySQL does not have',
      );
    }
  };

  /** Mirrored entries leave the outbox; a failure here only leaves work for the sweeper. */
  private async deleteEntries(batch: Pending[], results: MirrorResult[]): Promise<void> {
    const byTenant = new Map<string, string[]>();
    batch.forEach((p, i) => {
      if (results[i] === 'stale') return;
      const ids = byTenant.get(p.payload.tenant) ?? [];
      ids.push(p.entryId);
      byTenant.set(p.payload.tenant, ids);
    });
    if (byTenant.size === 0) return;
    try {
      // one command per tenant: tenants may live on different cluster nodes
      await Promise.all(
        [...byTenant].map(([tenant, ids]) =>
          this.o.redis.xdel(new TenantKeys(this.o.prefix, tenant).outbox, ...ids),
        ),
      );
    } catch (err) {
      this.log.warn(
        { err: toError(err) },
        'could not delete mirrored outbox entries; the sweeper will',
      );
    }
  }
}

function describe(p: MirrorItem) {
  return {
    tenant: p.payload.tenant,
    eventId: p.payload.id,
    type: p.payload.type,
    entryId: p.entryId,
  };
}
