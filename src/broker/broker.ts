import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Options,
  type RecoveringChannelModel,
} from 'amqplib';
import type { Logger } from '../logger.js';
import { amqpSocketOptions, type TlsFiles } from '../tls.js';
import { toError } from '../errors/to-error.js';
import { Acker } from './acker.js';
import { declareTopology, MAIN_QUEUE, type QueueType } from './topology.js';
import { amqpNodes, nextNodeDelay, RotatingAddress } from './amqp-nodes.js';
import { batchFrameWrites } from './frame-writes.js';

/**
 * The consuming connection's channel; a reconnect makes a new one and the old one's deliveries
 * are void (their acks cannot be sent on another channel).
 */
export interface Session {
  readonly id: number;
  readonly consume: Channel;
  readonly acker: Acker;
  open: boolean;
}

/** The publishing connection's confirm channel. */
interface Publisher {
  readonly channel: ConfirmChannel;
  /** the largest frame the broker accepts on this connection (negotiated at connect) */
  readonly frameMax: number;
  open: boolean;
}

/** The two connections: one only consumes and acks, one only publishes. */
export type ConnectionRole = 'consumer' | 'publisher';

/** The protocol's smallest frame size: what a connection that says nothing must accept. */
const FRAME_MIN_SIZE = 4096;
/** Room in a content header frame for the other properties, and the worker's own headers. */
const HEADER_FRAME_RESERVE = 8192;

export interface BrokerOptions {
  /** `AMQP_URL`: one node, or a cluster's nodes (see amqp-nodes.ts) */
  url: string;
  /** TLS material for an amqps: URL (config `AMQP_TLS_*`) */
  tls?: TlsFiles;
  prefetch: number;
  queueType: QueueType;
  deliveryLimit: number;
  types: readonly string[];
  /**
   * Set (TENANT_FROM_USER) to the user this connection authenticates as: messages published
   * again then carry their origin (see tenants.ts). Unset, they are published with no user_id.
   */
  ownUser?: string;
  logger: Logger;
  onMessage: (msg: ConsumeMessage, session: Session) => void;
  /** a publish not confirmed by then is failed (the delivery is retried). @default 30000 */
  confirmTimeoutMs?: number;
}

/**
 * Two connections, each recovered by amqplib (which reconnects the connection only: each
 * `setup` redeclares what it needs after every reconnect). Publishing and consuming do not
 * share one: when a resource alarm (memory, disk) makes RabbitMQ block the connections that
 * publish, it stops reading from them, and acks sent on a blocked connection would wait too.
 * The consuming connection never publishes, so it is never blocked: deliveries already
 * settled are still acked, and the worker's own backlog cannot grow behind the alarm.
 */
export class Broker {
  private consumerConnection: RecoveringChannelModel | undefined;
  private publisherConnection: RecoveringChannelModel | undefined;
  private session: Session | undefined;
  private publisher: Publisher | undefined;
  private sessions = 0;
  private consumerTag: string | undefined;
  private consuming = false;
  private stopping = false;
  private readonly blockedNow = new Set<ConnectionRole>();
  /** consumers set up while the publisher was down: they start once it is back */
  private readonly publisherWaiters: (() => void)[] = [];

  constructor(private readonly options: BrokerOptions) {}

  get connected(): boolean {
    return (this.session?.open ?? false) && (this.publisher?.open ?? false);
  }

  /** True while a consumer is registered on a live channel and publishing is possible. */
  get isConsuming(): boolean {
    return this.connected && this.consumerTag !== undefined;
  }

  /** The connections RabbitMQ blocks now (a resource alarm: publishing waits). */
  get blocked(): ReadonlySet<ConnectionRole> {
    return this.blockedNow;
  }

  async start(consume = true): Promise<void> {
    this.consuming = consume;
    // the publisher declares the topology the consumer's queue needs: it connects first
    this.publisherConnection = await this.connect('publisher', (m) => this.setupPublisher(m));
    this.consumerConnection = await this.connect('consumer', (m) => this.setupConsumer(m));
  }

  private async connect(
    role: ConnectionRole,
    setup: (model: ChannelModel) => Promise<void>,
  ): Promise<RecoveringChannelModel> {
    const log = this.options.logger.child({ connection: role });
    // amqplib reconnects to the address it was given: a rotating one moves on to the next node
    // of a cluster before each retry (the current node is gone, or refuses).
    const address = new RotatingAddress(amqpNodes(this.options.url));
    const connection = await amqp.connect(address, {
      ...amqpSocketOptions(this.options.tls),
      clientProperties: { connection_name: `inventory-worker ${role}` },
      recovery: {
        initialMaxRetries: 10 * address.count,
        calculateDelay: (attempt) =>
          nextNodeDelay(address, attempt, { firstMs: 200, maxMs: 5_000 }),
        setup: async (model: ChannelModel) => {
          if (!batchFrameWrites(model)) {
            log.warn(
              'amqplib changed: each frame is written on its own (src/broker/frame-writes.ts)',
            );
          }
          await setup(model);
          log.info({ node: address.current.label }, 'broker connected');
        },
      },
    });
    connection.on('disconnect', (err: Error) =>
      log.warn({ err: err.message }, 'broker connection lost; reconnecting'),
    );
    connection.on('reconnect-scheduled', ({ attempt, delay }) =>
      log.info({ attempt, delay }, 'broker reconnect scheduled'),
    );
    connection.on('error', (err: Error) => log.warn({ err: err.message }, 'broker error'));
    connection.on('blocked', (reason: unknown) => {
      this.blockedNow.add(role);
      log.warn({ reason: String(reason) }, 'broker blocked this connection (resource alarm)');
    });
    connection.on('unblocked', () => {
      this.blockedNow.delete(role);
      log.info('broker unblocked this connection');
    });
    return connection;
  }

  private async setupPublisher(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    // listened to before the first declaration: a channel error with no listener would throw
    channel.on('error', (err: Error) =>
      this.options.logger.warn({ err: err.message, connection: 'publisher' }, 'channel error'),
    );
    await declareTopology(channel, this.options);
    const publisher: Publisher = { channel, frameMax: negotiatedFrameMax(model), open: true };
    channel.on('close', () => (publisher.open = false));
    this.blockedNow.delete('publisher');
    this.publisher = publisher;
    for (const wake of this.publisherWaiters.splice(0)) wake();
  }

  private async setupConsumer(model: ChannelModel): Promise<void> {
    const { logger: log } = this.options;
    const consume = await model.createChannel();
    consume.on('error', (err: Error) =>
      log.warn({ err: err.message, connection: 'consumer' }, 'channel error'),
    );
    await consume.prefetch(this.options.prefetch);
    const session: Session = {
      id: ++this.sessions,
      consume,
      acker: new Acker(consume),
      open: true,
    };
    consume.on('close', () => {
      if (!session.open) return;
      session.open = false;
      session.acker.close();
      if (this.session === session) this.consumerTag = undefined;
    });
    this.blockedNow.delete('consumer');
    this.session = session;
    if (!this.consuming || this.stopping) return;
    if (this.publisher?.open) {
      await this.consume(session);
      return;
    }
    // Both connections were lost and this one came back first: a delivery taken now could not
    // be announced and would only go round again. Consume once the publisher is back.
    log.info({ session: session.id }, 'waiting for the publishing connection before consuming');
    this.publisherWaiters.push(() => {
      this.consume(session).catch((e: unknown) =>
        log.warn({ err: toError(e).message, session: session.id }, 'consume failed'),
      );
    });
  }

  private async consume(session: Session): Promise<void> {
    if (!session.open || this.stopping || this.session !== session) return;
    const { consumerTag } = await session.consume.consume(MAIN_QUEUE, (msg) => {
      if (!msg) return; // consumer cancelled by the broker (queue deleted): recovery re-declares
      session.acker.track(msg);
      this.options.onMessage(msg, session);
    });
    this.consumerTag = consumerTag;
    this.options.logger.info({ session: session.id, queue: MAIN_QUEUE }, 'broker ready');
  }

  /** Stops new deliveries; in-flight ones can still be acked. */
  async stopConsuming(): Promise<void> {
    this.stopping = true;
    const s = this.session;
    if (s?.open && this.consumerTag) {
      try {
        await s.consume.cancel(this.consumerTag);
      } catch (e) {
        this.options.logger.warn({ err: toError(e).message }, 'cancel consumer failed');
      }
    }
    this.consumerTag = undefined;
  }

  /** The user messages published again are sealed with (see `BrokerOptions.ownUser`). */
  get ownUser(): string | undefined {
    return this.options.ownUser;
  }

  /**
   * How many bytes of a message's own headers may be published again with it: a header frame
   * over the connection's frame size makes the broker close the connection.
   */
  get headerBudget(): number {
    const frameMax = this.publisher?.frameMax ?? FRAME_MIN_SIZE;
    return Math.max(0, frameMax - HEADER_FRAME_RESERVE);
  }

  /**
   * Publishes and resolves once the broker confirmed it. Rejects if not connected, if the
   * broker refuses it, or if no confirm came within `confirmTimeoutMs` (a blocked or stalled
   * connection): the caller then gives the delivery back, and a late confirm changes nothing
   * but a duplicate announcement, which consumers drop by its id.
   */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
  ): Promise<void> {
    const p = this.publisher;
    if (!p?.open) return Promise.reject(new Error('broker not connected'));
    const timeoutMs = this.options.confirmTimeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`publish not confirmed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      p.channel.publish(exchange, routingKey, content, { persistent: true, ...options }, (err) => {
        clearTimeout(timer);
        if (err) reject(toError(err));
        else resolve();
      });
    });
  }

  /** A channel for ad-hoc reads (the DLQ's depth), on the publishing connection. */
  async channel(): Promise<Channel> {
    if (!this.publisherConnection) throw new Error('broker not started');
    return this.publisherConnection.createChannel();
  }

  /**
   * The worker crashed: acks the deliveries completed so far, and nothing from now on; what is
   * still in flight goes back to the broker when the connection closes (`abort`).
   */
  freeze(): void {
    this.stopping = true;
    const s = this.session;
    if (s?.open) s.acker.ackCompletedAndClose();
  }

  /** After `freeze`: closes the connections; the broker redelivers every unacked delivery. */
  async abort(): Promise<void> {
    this.freeze();
    await this.closeConnections();
  }

  /** Deliveries of the current channel not acknowledged yet (in flight, or waiting to be). */
  get unacked(): number {
    return this.session?.open ? this.session.acker.pending : 0;
  }

  async close(): Promise<void> {
    this.stopping = true;
    const s = this.session;
    // each completed delivery is acked, also those behind one given back for redelivery
    if (s?.open) s.acker.ackCompletedAndClose();
    await this.closeConnections();
  }

  private async closeConnections(): Promise<void> {
    const s = this.session;
    if (s?.open) {
      // Close the consuming channel first: its close-ok comes after the broker processed the
      // acks just sent on it. Closing only the connection lets amqplib's frame mux send the
      // connection close ahead of them, and the last acks are lost (the events redelivered).
      try {
        await s.consume.close();
      } catch (e) {
        this.options.logger.warn({ err: toError(e).message }, 'closing the consume channel failed');
      }
    }
    for (const connection of [this.consumerConnection, this.publisherConnection]) {
      try {
        await connection?.close();
      } catch (e) {
        this.options.logger.warn({ err: toError(e).message }, 'broker close failed');
      }
    }
  }
}

/** amqplib keeps the negotiated frame size on the connection without typing it. */
function negotiatedFrameMax(model: ChannelModel): number {
  const frameMax: unknown = (model.connection as { frameMax?: unknown }).frameMax;
  return typeof frameMax === 'number' && frameMax >= FRAME_MIN_SIZE ? frameMax : FRAME_MIN_SIZE;
}
