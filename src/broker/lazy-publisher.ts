import { type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import { amqpSocketOptions, type TlsFiles } from '../tls.js';
import { INVENTORY_EXCHANGE } from './topology.js';
import { connectFirst } from './amqp-nodes.js';

export interface LazyPublisher {
  /** Publishes on inventory.events and resolves once the broker confirmed it. */
  publish(routingKey: string, content: Buffer, options: Options.Publish): Promise<void>;
  close(): Promise<void>;
}

/**
 * A confirmed publisher for one-off tools (the CLI): it connects on the first publish only,
 * so a command that has nothing to announce never needs the broker.
 */
export function lazyPublisher(url: string, tls?: TlsFiles): LazyPublisher {
  let opening: Promise<{ conn: ChannelModel; ch: ConfirmChannel }> | undefined;
  const open = () =>
    (opening ??= (async () => {
      const conn = await connectFirst(url, amqpSocketOptions(tls));
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange(INVENTORY_EXCHANGE, 'topic', { durable: true });
      return { conn, ch };
    })());
  return {
    async publish(routingKey, content, options) {
      const { ch } = await open();
      await new Promise<void>((resolve, reject) => {
        ch.publish(
          INVENTORY_EXCHANGE,
          routingKey,
          content,
          { persistent: true, ...options },
          (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
        );
      });
    },
    async close() {
      if (!opening) return;
      const { conn } = await opening.catch(() => ({ conn: undefined }));
      await conn?.close().catch(() => undefined);
    },
  };
}
