import type { Channel } from 'amqplib';
import type { Broker } from '../broker/broker.js';
import { DLQ } from '../broker/topology.js';

/**
 * How many messages wait in inventory.dlq, through one channel kept open for it (opened on
 * first use, opened again after the connection was recovered).
 */
export function dlqDepthReader(broker: Broker): () => Promise<number> {
  let channel: Promise<Channel> | undefined;
  const open = (): Promise<Channel> => {
    const opening = broker.channel().then((ch) => {
      ch.on('close', () => {
        if (channel === opening) channel = undefined;
      });
      ch.on('error', () => undefined); // followed by 'close'
      return ch;
    });
    opening.catch(() => {
      if (channel === opening) channel = undefined;
    });
    return opening;
  };
  return async () => {
    channel ??= open();
    return (await (await channel).checkQueue(DLQ)).messageCount;
  };
}
