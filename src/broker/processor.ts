import type { ConsumeMessage } from 'amqplib';
import { announcementEvent, WORKER_SOURCE } from '../domain/announcement-schemas.js';
import { announce, type Announcement } from '../domain/announcements.js';
import { cartExpiryEvent } from '../domain/cart-expiry.js';
import type { Command, EventMeta, LedgerSink, OutboxPayload } from '../domain/types.js';
import type { TraceContext } from '../domain/trace-context.js';
import type { EventSpan, EventTracer } from '../tracing/event-tracer.js';
import type { DueCart, Engine } from '../engine/engine.js';
import { PermanentError } from '../errors/permanent-error.js';
import { reasonText } from '../errors/reasons.js';
import { toError } from '../errors/to-error.js';
import type { Logger } from '../logger.js';
import type { Broker, Session } from './broker.js';
import { deadLetter, retryLater, traceHeaders } from './dead-letter.js';
import type { CrashGuard } from './crash-guard.js';
import {
  decode,
  traceContextOfUndecoded,
  type DecodedEvent,
  type DecodeOptions,
} from './decode.js';
import { propertyString } from './headers.js';
import { KeyedSerializer, KeyedTurns } from './keyed-serializer.js';
import { DLQ, INVENTORY_EXCHANGE } from './topology.js';

export interface ProcessorOptions extends DecodeOptions {
  engine: Engine;
  ledger: LedgerSink;
  broker: Broker;
  logger: Logger;
  /** the payload of an event applied earlier, from MySQL (to re-announce a duplicate) */
  findPayload: (
    tenant: string,
    source: string,
    id: string,
    command: Command,
  ) => Promise<OutboxPayload | undefined>;
  /** called with every applied payload once durable (e.g. to schedule cart expiry) */
  onApplied?: (payload: OutboxPayload) => Promise<void>;
  /** told how each delivery ended and how long it took (metrics); must not throw */
  observe?: (msg: ConsumeMessage, outcome: Outcome | 'error', seconds: number) => void;
  /** remembers crashes against the messages being processed; none: crashes are not counted */
  crashGuard?: CrashGuard;
  /** one span per delivery (OpenTelemetry); none: tracing is off, and costs nothing */
  tracer?: EventTracer;
}

export interface ApplyDurablyOptions {
  /**
   * `meta` and `command` come from `decode`, which validated them: the engine does not check
   * them again (test/contract/validate-once.test.ts shows decode accepts nothing the engine's
   * schemas refuse). Otherwise, as for commands made inside the worker, the engine validates.
   */
  valid?: boolean;
  /** the event's trace context: the cart expiries its reservation causes are announced with it */
  trace?: TraceContext;
  /** the delivery's span: the script and the commit become steps of it */
  span?: EventSpan;
  /** called once the event's effect in Redis is decided */
  inRedis?: () => void;
}

/** What is known of a delivery being processed (to say what was in flight at a crash). */
export interface InFlight {
  messageId: string | undefined;
  routingKey: string;
  eventId?: string;
  type?: string;
  tenant?: string;
}

export type Outcome =
  'applied' | 'duplicate' | 'rejected' | 'ignored' | 'retry' | 'dead-letter' | 'dropped';

/** Attribute names of the steps' spans (OpenTelemetry semantic conventions). */
const DB_SYSTEM = 'db.system.name';
const ATTR_MESSAGING_SYSTEM = 'messaging.system';
const ATTR_MESSAGING_DESTINATION = 'messaging.destination.name';

const inFlightOf = (msg: ConsumeMessage): InFlight => ({
  messageId: propertyString(msg.properties.messageId),
  routingKey: msg.fields.routingKey,
});

const noop = (): void => undefined;

const eventKey = (m: EventMeta): string => `${m.tenant}\x1f${m.source}\x1f${m.id}`;

/**
 * Payloads kept for re-announcement at most. A broker outage leaves at most a prefetch window
 * owed per worker; beyond the bound the oldest falls back to what MySQL keeps of its event.
 */
export const MAX_OWED_ANNOUNCEMENTS = 100_000;

/** A stale payload (Redis was rebuilt under it) is re-applied; this bounds the loop. */
const MAX_REAPPLY = 5;
/**
 * A reservation refused while carts are past their expiry expires them and tries again; this
 * bounds the rounds (then the refusal stands, and the expiry jobs release the rest).
 */
const MAX_EXPIRE_ROUNDS = 3;

/**
 * The life of one delivery: decode → apply in Redis (ordered per cart/order) → durable in
 * MySQL → announce with publisher confirms → acknowledge. Nothing is acked before its effect
 * is durable; a delivery whose channel died is dropped, and its redelivery is a duplicate that
 * completes whatever step was missing.
 */
export class Processor {
  /** events of one cart or order are applied in Redis one at a time, in delivery order */
  private readonly serializer = new KeyedSerializer();
  /** ... and their announcements published in that order (their commits may end in another) */
  private readonly announcing = new KeyedTurns();
  /**
   * Payloads whose announcements the broker did not confirm, by event. Their redelivery is a
   * duplicate, and what MySQL keeps of an event has no hold snapshots: an `order.placed` that
   * took over its cart's hold would re-announce nothing. The payload kept here is exact.
   */
  private readonly unannounced = new Map<string, OutboxPayload>();
  private inFlight = 0;
  private idle: (() => void)[] = [];
  /** deliveries being processed now (not those waiting for their turn as a suspect) */
  private readonly processing = new Map<ConsumeMessage, InFlight>();
  /** the tail of the line in which suspects (redeliveries that were in flight at a crash) run */
  private suspects: Promise<unknown> = Promise.resolve();
  /** the worker is crashing: what is in flight is neither acked nor cleared of its crashes */
  private halted = false;

  constructor(private readonly o: ProcessorOptions) {}

  get active(): number {
    return this.inFlight;
  }

  /** Announcements owed to redeliveries (bounded by MAX_OWED_ANNOUNCEMENTS). */
  get owedAnnouncements(): number {
    return this.unannounced.size;
  }

  handle(msg: ConsumeMessage, session: Session): void {
    this.inFlight++;
    void this.run(msg, session);
  }

  /**
   * One delivery from start to its metrics; never rejects, whatever the message holds. The
   * common delivery (not a suspect) goes through one async frame here, one in `processEvent`
   * and one in `applyDurably`: each frame more is promises and microtasks for every delivery.
   */
  private async run(msg: ConsumeMessage, session: Session): Promise<void> {
    const started = this.o.observe ? performance.now() : 0;
    let outcome: Outcome | 'error';
    try {
      if (this.o.crashGuard && msg.fields.redelivered) outcome = await this.guarded(msg, session);
      else {
        this.processing.set(msg, inFlightOf(msg));
        try {
          outcome = await this.process(msg, session);
        } finally {
          this.processing.delete(msg);
        }
      }
    } catch (e) {
      this.o.logger.error(
        { err: toError(e), messageId: propertyString(msg.properties.messageId), outcome: 'error' },
        'unexpected failure processing a delivery',
      );
      outcome = 'error';
    }
    try {
      this.o.observe?.(msg, outcome, (performance.now() - started) / 1000);
    } catch (e) {
      this.o.logger.error({ err: toError(e) }, 'metrics observer failed');
    }
    if (--this.inFlight === 0) for (const f of this.idle.splice(0)) f();
  }

  /**
   * A redelivery that was being processed when a worker crashed is a suspect: suspects run one
   * at a time, so that at the next crash only the one that caused it (and the first deliveries
   * running beside it) is charged; one charged `limit` times is dead-lettered, not applied.
   */
  private async guarded(msg: ConsumeMessage, session: Session): Promise<Outcome> {
    const guard = this.o.crashGuard!;
    const crashes = await guard.crashesOf(msg);
    if (crashes === 0) return this.tracked(msg, session);
    if (crashes >= guard.limit) {
      const reason = reasonText(
        'crashed-worker',
        `it was being processed at ${crashes} crashes of the worker; not applied again`,
      );
      const outcome = await this.settle(
        msg,
        session,
        'dead-letter',
        () => deadLetter(this.o.broker, msg, reason),
        { eventId: propertyString(msg.properties.messageId), type: msg.fields.routingKey, reason },
      );
      if (outcome !== 'dropped' && !this.halted) await guard.forget(msg);
      return outcome;
    }
    const turn = this.suspects.then(() => this.tracked(msg, session));
    this.suspects = turn.catch(() => undefined);
    const outcome = await turn;
    if (outcome !== 'dropped' && !this.halted) await guard.forget(msg);
    return outcome;
  }

  /** Processes a delivery, known as in flight meanwhile. */
  private async tracked(msg: ConsumeMessage, session: Session): Promise<Outcome> {
    this.processing.set(msg, inFlightOf(msg));
    try {
      return await this.process(msg, session);
    } finally {
      this.processing.delete(msg);
    }
  }

  /**
   * The worker is crashing: from now on no delivery is cleared of its crashes (its ack is
   * stopped by the broker's `freeze`). Returns the deliveries being processed at this moment.
   */
  halt(): ConsumeMessage[] {
    this.halted = true;
    return [...this.processing.keys()];
  }

  /** The deliveries being processed now, and what is known of each. */
  get processingNow(): ReadonlyMap<ConsumeMessage, InFlight> {
    return this.processing;
  }

  /** Resolves once no delivery is in flight (or after `timeoutMs`). */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return true;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /**
   * Decodes the delivery, then processes it: in a span of its own when tracing is on (a child
   * of the event's traceparent), whose context then goes on to its announcements.
   */
  private process(msg: ConsumeMessage, session: Session): Promise<Outcome> {
    const tracer = this.o.tracer;
    const startedAt = tracer ? Date.now() : 0;
    let decoded: DecodedEvent | Error;
    try {
      decoded = decode(msg, this.o);
    } catch (e) {
      decoded = toError(e);
    }
    if (!tracer) return this.processDecoded(msg, session, decoded, undefined);
    const { fields, properties, content } = msg;
    return tracer.delivery(
      {
        exchange: fields.exchange,
        routingKey: fields.routingKey,
        messageId: propertyString(properties.messageId),
        bodyBytes: content.length,
        redelivered: fields.redelivered,
      },
      decoded instanceof Error ? traceContextOfUndecoded(msg, this.o.maxBytes) : decoded.trace,
      startedAt,
      (span) => this.processDecoded(msg, session, decoded, span),
    );
  }

  private processDecoded(
    msg: ConsumeMessage,
    session: Session,
    decoded: DecodedEvent | Error,
    span: EventSpan | undefined,
  ): Promise<Outcome> {
    if (decoded instanceof Error) {
      const err = decoded;
      const reason =
        err instanceof PermanentError
          ? reasonText(err.reason, err.message)
          : reasonText('malformed', err.message);
      const trace = span?.trace ?? traceContextOfUndecoded(msg, this.o.maxBytes);
      return this.settle(
        msg,
        session,
        'dead-letter',
        () => deadLetter(this.o.broker, msg, reason, trace),
        // not decoded: the AMQP message id and routing key are all there is to name it by
        { eventId: propertyString(msg.properties.messageId), type: msg.fields.routingKey, reason },
        span,
      );
    }
    return this.processEvent(msg, session, decoded, span);
  }

  private async processEvent(
    msg: ConsumeMessage,
    session: Session,
    event: DecodedEvent,
    span: EventSpan | undefined,
  ): Promise<Outcome> {
    // in delivery order, as the serializer's turns are taken (nothing is awaited before)
    const turn = this.announcing.enter(event.orderingKeys);
    try {
      const log = this.o.logger;
      let { meta } = event;
      // traced: announcements and the dead letter name the event's span, and an event that came
      // with no trace context is the root of a trace, whose id the ledger keeps too
      const trace = span?.trace ?? event.trace;
      if (span) {
        span.describe(meta);
        if (meta.traceId === undefined && trace) meta = { ...meta, traceId: trace.traceId };
      }
      const ctx = { eventId: meta.id, type: meta.type, tenant: meta.tenant };
      const known = this.processing.get(msg);
      if (known) Object.assign(known, ctx);
      let applied: { payload?: OutboxPayload; duplicate: boolean; notYet?: string };
      try {
        // the next event of the cart or order is applied once this one is in Redis, while
        // this one waits for its commit
        applied = await this.serializer.run(event.orderingKeys, (release) =>
          this.applyDurably(meta, event.command, { valid: true, trace, span, inRedis: release }),
        );
      } catch (e) {
        const err = toError(e);
        if (err instanceof PermanentError) {
          const reason = reasonText(err.reason, err.message);
          return this.settle(
            msg,
            session,
            'dead-letter',
            () => deadLetter(this.o.broker, msg, reason, trace),
            { ...ctx, reason },
            span,
          );
        }
        return this.settle(
          msg,
          session,
          'retry',
          () => retryLater(this.o.broker, msg, err.message),
          { ...ctx, reason: err.message },
          span,
        );
      }
      if (applied.notYet) {
        const reason = `not-yet: ${applied.notYet}`;
        return this.settle(
          msg,
          session,
          'retry',
          () => retryLater(this.o.broker, msg, reason),
          { ...ctx, reason },
          span,
        );
      }
      // only a redelivery can owe announcements: the common path builds no key
      const owedKey = applied.duplicate ? eventKey(meta) : undefined;
      const p = (owedKey !== undefined && this.unannounced.get(owedKey)) || applied.payload;
      if (p) {
        try {
          // after those of the events of its cart or order delivered before it
          await turn.ready;
          const sent = this.announce(p, trace, span);
          turn.done();
          await sent;
        } catch (e) {
          // Not confirmed: give the delivery back; its redelivery re-announces (duplicate path).
          span?.reason(`announcement not confirmed: ${toError(e).message}`);
          log.warn(
            { ...ctx, outcome: 'dropped', err: toError(e).message },
            'announcement not confirmed; delivery left for redelivery',
          );
          this.unannounced.set(owedKey ?? eventKey(meta), p);
          // the oldest is dropped beyond the bound: its redelivery re-announces from MySQL
          if (this.unannounced.size > MAX_OWED_ANNOUNCEMENTS)
            this.unannounced.delete(this.unannounced.keys().next().value!);
          session.acker.requeue(msg);
          return 'dropped';
        }
        if (owedKey !== undefined) this.unannounced.delete(owedKey);
      }
      session.acker.done(msg);
      const outcome: Outcome = applied.duplicate
        ? 'duplicate'
        : p?.outcome.result === 'rejected'
          ? 'rejected'
          : p?.outcome.result === 'ignored'
            ? 'ignored'
            : 'applied';
      log.debug({ ...ctx, outcome, reason: p?.outcome.reason }, 'event processed');
      return outcome;
    } finally {
      turn.done();
    }
  }

  /**
   * Applies the event in Redis and waits until its payload is committed to MySQL. `inRedis` is
   * called once the script has run (the event's effect in Redis is decided; what is left is
   * making it durable). A payload that comes back stale (Redis lost it) is applied again after
   * that, so possibly after a later event of its cart or order: the out-of-order rules
   * (docs/events.md) cover that, as they cover several workers on one queue.
   */
  async applyDurably(
    meta: EventMeta,
    command: Command,
    o: ApplyDurablyOptions = {},
  ): Promise<{ payload?: OutboxPayload; duplicate: boolean; notYet?: string }> {
    const { trace, span, inRedis } = o;
    const engine = this.o.engine;
    let rounds = 0;
    for (let i = 0; i < MAX_REAPPLY + MAX_EXPIRE_ROUNDS; i++) {
      const options = { expireDue: rounds < MAX_EXPIRE_ROUNDS };
      const run = () =>
        o.valid === true
          ? engine.applyValid(meta, command, options)
          : engine.apply(meta, command, options);
      const r = await (span
        ? span.step(
            `script ${command.op}`,
            'client',
            { [DB_SYSTEM]: 'redis', 'inventory.script': command.op },
            run,
          )
        : run());
      if (r.status === 'expire-first') {
        rounds++;
        await this.expireDue(meta, r.due, trace);
        continue;
      }
      inRedis?.();
      if (r.status === 'not-yet') return { duplicate: false, notYet: r.reason };
      if (r.status === 'applied') {
        if ((await this.write(r.payload, r.entryId, span)) === 'stale') continue;
        if (this.o.onApplied) await this.o.onApplied(r.payload);
        return { payload: r.payload, duplicate: false };
      }
      if (r.pending) {
        // applied by a delivery that never finished (worker died): finish its mirror now
        if ((await this.write(r.pending, r.entryId, span)) === 'stale') continue;
        if (this.o.onApplied) await this.o.onApplied(r.pending);
        return { payload: r.pending, duplicate: true };
      }
      const payload = await this.o.findPayload(meta.tenant, meta.source, meta.id, command);
      return { ...(payload ? { payload } : {}), duplicate: true };
    }
    throw new Error(`event ${meta.id}: Redis was rebuilt ${MAX_REAPPLY} times under it`);
  }

  /** Waits until the payload is committed to MySQL (in a span of its own when traced). */
  private write(payload: OutboxPayload, entryId: string, span: EventSpan | undefined) {
    if (!span) return this.o.ledger.write(payload, entryId);
    return span.step('ledger commit', 'internal', { [DB_SYSTEM]: 'mysql' }, () =>
      this.o.ledger.write(payload, entryId),
    );
  }

  /**
   * Expires carts past their expiry exactly as their expiry jobs do (the same event, whose id
   * is the job's: whichever of the two comes second is a duplicate, or ignored by the script),
   * so stock an expired cart still holds never refuses a reservation while the job runner is
   * behind or down. Each expiry is durable and announced before the reservation is retried.
   */
  private async expireDue(by: EventMeta, due: DueCart[], trace?: TraceContext): Promise<void> {
    await Promise.all(
      due.map(async (d) => {
        const { meta, command } = cartExpiryEvent({ tenant: by.tenant, ...d });
        const r = await this.applyDurably(meta, command);
        // a duplicate was applied by its job, which announces it
        if (r.payload && !r.duplicate) await this.announce(r.payload, trace);
      }),
    );
    this.o.logger.info(
      { eventId: by.id, type: by.type, tenant: by.tenant, carts: due.length },
      'expired carts past their expiry before retrying a reservation',
    );
  }

  /**
   * Publishes what the payload announces and resolves once the broker confirmed all of it. The
   * causing event's trace context goes with each announcement, as CloudEvents attributes and
   * as AMQP headers.
   */
  announce(p: OutboxPayload, trace?: TraceContext, span?: EventSpan): Promise<void> {
    const headers = traceHeaders(trace);
    const publish = (): Promise<void> => {
      try {
        const all = announce(p);
        // most events announce one thing: its publish is the promise, with nothing around it
        if (all.length === 1) return this.publishAnnouncement(all[0]!, headers);
        return Promise.all(all.map((a) => this.publishAnnouncement(a, headers))).then(noop);
      } catch (e) {
        return Promise.reject(toError(e));
      }
    };
    if (!span) return publish();
    return span.step(
      `publish ${INVENTORY_EXCHANGE}`,
      'producer',
      {
        [ATTR_MESSAGING_SYSTEM]: 'rabbitmq',
        [ATTR_MESSAGING_DESTINATION]: INVENTORY_EXCHANGE,
        'messaging.operation.type': 'send',
      },
      publish,
    );
  }

  private publishAnnouncement(a: Announcement, headers: Record<string, string>): Promise<void> {
    return this.o.broker.publish(
      INVENTORY_EXCHANGE,
      a.type,
      Buffer.from(JSON.stringify(announcementEvent(a, WORKER_SOURCE, headers))),
      { contentType: 'application/cloudevents+json', messageId: a.id, type: a.type, headers },
    );
  }

  private async settle(
    msg: ConsumeMessage,
    session: Session,
    outcome: Outcome,
    send: () => Promise<unknown>,
    ctx: Record<string, unknown>,
    span?: EventSpan,
  ): Promise<Outcome> {
    const log = this.o.logger;
    try {
      if (span && typeof ctx.reason === 'string') span.reason(ctx.reason);
      const where = await (span
        ? span.step(
            `publish ${outcome === 'retry' ? 'retry' : DLQ}`,
            'producer',
            { [ATTR_MESSAGING_SYSTEM]: 'rabbitmq', 'messaging.operation.type': 'send' },
            send,
          )
        : send());
      session.acker.done(msg);
      const final = where === 'dead-letter' ? 'dead-letter' : outcome;
      if (final === 'dead-letter') log.warn({ ...ctx, outcome: final }, 'event dead-lettered');
      else log.warn({ ...ctx, outcome: final }, 'event failed; retrying later');
      return final;
    } catch (e) {
      log.warn(
        { ...ctx, outcome: 'dropped', err: toError(e).message },
        'could not re-route delivery; left for redelivery',
      );
      session.acker.requeue(msg);
      return 'dropped';
    }
  }
}
