import { once } from 'node:events';
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
import { toError } from '../errors/toError.js';
import { Acker } from './acker.js';
import { declareTopology, MAIN_QUEUE, type QueueType } from './topology.js';

/** One connection's channels; a reconnect makes a new one and the old one's deliveries are void. */
export interface Session {
  readonly id: number;
  readonly consume: Channel;
  readonly publish: ConfirmChannel;
  readonly acker: Acker;
  /** the largest frame the broker accepts on this connection (negotiated at connect) */
  readonly frameMax: number;
  open: boolean;
}

/** The protocol's smallest frame size: what a connection that says nothing must accept. */
const FRAME_MIN_SIZE = 4096;
/** Room in a content header frame for the properties other than `headers`, and the worker's own headers. */
const HEADER_FRAME_RESERVE = 8192;

export interface BrokerOptions {
  url: string;
  /** TLS material for an amqps: URL (config `AMQP_TLS_*`) */
  tls?: TlsFiles;
  prefetch: number;
  queueType: QueueType;
  deliveryLimit: number;
  types: readonly string[];
  logger: Logger;
  onMessage: (msg: ConsumeMessage, session: Session) => void;
}

/**
 * amqplib's connection recovery reconnects the connection only: `setup` runs after every
 * (re)connect and redeclares topology, channels and the consumer.
 */
export class Broker {
  private connection: RecoveringChannelModel | undefined;
  private session: Session | undefined;
  private sessions = 0;
  private consumerTag: string | undefined;
  private consuming = false;
  private stopping = false;

  constructor(private readonly options: BrokerOptions) {}

  get connected(): boolean {
    return this.session?.open ?? false;
  }

  /** True while a consumer is registered on a live channel. */
  get isConsuming(): boolean {
    return this.connected && this.consumerTag !== undefined;
  }

  async start(consume = true): Promise<void> {
    this.consuming = consume;
    const log = this.options.logger;
    this.connection = await amqp.connect(this.options.url, {
      ...amqpSocketOptions(this.options.tls),
      recovery: {
        initialDelay: 200,
        maxDelay: 5_000,
        initialMaxRetries: 10,
        setup: (model: ChannelModel) => this.setup(model),
      },
    });
    this.connection.on('disconnect', (err: Error) =>
      log.warn({ err: err.message }, 'broker connection lost; reconnecting'),
    );
    this.connection.on('reconnect-scheduled', ({ attempt, delay }) =>
      log.info({ attempt, delay }, 'broker reconnect scheduled'),
    );
    this.connection.on('error', (err: Error) => log.warn({ err: err.message }, 'broker error'));
  }

  private async setup(model: ChannelModel): Promise<void> {
    const { logger: log } = this.options;
    const publish = await model.createConfirmChannel();
    await declareTopology(publish, this.options);
    const consume = await model.createChannel();
    await consume.prefetch(this.options.prefetch);
    const session: Session = {
      id: ++this.sessions,
      consume,
      publish,
      acker: new Acker(consume),
      frameMax: negotiatedFrameMax(model),
      open: true,
    };
    const closeSession = () => {
      if (!session.open) return;
      session.open = false;
      session.acker.close();
      if (this.session === session) this.consumerTag = undefined;
    };
    for (const ch of [consume, publish]) {
      ch.on('close', closeSession);
      ch.on('error', (err: Error) => log.warn({ err: err.message }, 'channel error'));
    }
    this.session = session;
    if (this.consuming && !this.stopping) await this.consume(session);
    log.info({ session: session.id, queue: MAIN_QUEUE }, 'broker ready');
  }

  private async consume(session: Session): Promise<void> {
    const { consumerTag } = await session.consume.consume(MAIN_QUEUE, (msg) => {
      if (!msg) return; // consumer cancelled by the broker (queue deleted): recovery re-declares
      session.acker.track(msg);
      this.options.onMessage(msg, session);
    });
    this.consumerTag = consumerTag;
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

  /**
   * How many bytes of a message's own headers may be published again with it: a header frame
   * over the connection's frame size makes the broker close the connection.
   */
  get headerBudget(): number {
    const frameMax = this.session?.frameMax ?? FRAME_MIN_SIZE;
    return Math.max(0, frameMax - HEADER_FRAME_RESERVE);
  }

  /** Publishes and resolves once the broker confirmed it. Rejects if not connected. */
  async publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
  ): Promise<void> {
    const s = this.session;
    if (!s?.open) throw new Error('broker not connected');
    const confirmed = new Promise<void>((resolve, reject) => {
      const ok = s.publish.publish(
        exchange,
        routingKey,
        content,
        { persistent: true, ...options },
        (err) => (err ? reject(toError(err)) : resolve()),
      );
      if (!ok) void once(s.publish, 'drain').catch(() => undefined);
    });
    return confirmed;
  }

  /** A channel for ad-hoc work (CLI: dlq list/replay). */
  async channel(): Promise<Channel> {
    if (!this.connection) throw new Error('broker not started');
    return this.connection.createChannel();
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

  /** After `freeze`: closes the connection; the broker redelivers every unacked delivery. */
  async abort(): Promise<void> {
    this.freeze();
    const s = this.session;
    if (s?.open) {
      try {
        await s.consume.close();
      } catch (e) {
        this.options.logger.warn({ err: toError(e).message }, 'closing the consume channel failed');
      }
    }
    try {
      await this.connection?.close();
    } catch (e) {
      this.options.logger.warn({ err: toError(e).message }, 'broker close failed');
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    const s = this.session;
    if (s?.open) {
      s.acker.flush();
      // Close the consuming channel first: its close-ok comes after the broker processed the
      // acks just sent on it. Closing only the connection lets amqplib's frame mux send the
      // connection close ahead of them, and the last acks are lost (the events redelivered).
      try {
        await s.consume.close();
      } catch (e) {
        this.options.logger.warn({ err: toError(e).message }, 'closing the consume channel failed');
      }
    }
    try {
      await this.connection?.close();
    } catch (e) {
      this.options.logger.warn({ err: toError(e).message }, 'broker close failed');
    }
  }
}

/** amqplib keeps the negotiated frame size on the connection without typing it. */
function negotiatedFrameMax(model: ChannelModel): number {
  const frameMax: unknown = (model.connection as { frameMax?: unknown }).frameMax;
  return typeof frameMax === 'number' && frameMax >= FRAME_MIN_SIZE ? frameMax : FRAME_MIN_SIZE;
}
