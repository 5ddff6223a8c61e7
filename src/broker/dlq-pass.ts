/**
 * Reading inventory.dlq without handing anything back to it: the one way of reading it that no
 * RabbitMQ version, queue type or policy turns into losing dead letters (docs/architecture.md,
 * "Queues, retry tiers, dead letters").
 */
import { type ChannelModel, type ConfirmChannel, type GetMessage, type Options } from 'amqplib';
import { propertyString, republishableHeaders } from './headers.js';
import { amqpUser, carryOrigin } from './tenants.js';
import { connectFirst } from './amqp-nodes.js';
import { DLQ } from './topology.js';
import { amqpSocketOptions, type TlsFiles } from '../tls.js';

/**
 * Headers a copy or a replay may carry, in bytes: the frame size amqplib asks for (128 KiB)
 * less room for the other properties (ten short strings at most). A dead letter's headers
 * reached us within a frame of that size.
 */
export const COPY_HEADER_BUDGET = 131_072 - 4096;

/**
 * The broker's count of deliveries from the queue being read (quorum queues), not part of
 * the message: RabbitMQ 3.x sets `x-delivery-count` on every delivery, 4.x also
 * `x-acquired-count`. A copy must not carry the count of the delivery it was made from.
 */
export const DELIVERY_ANNOTATIONS = ['x-delivery-count', 'x-acquired-count'];

/**
 * The properties of a copy of `m`, to be published to the DLQ by `ownUser`: the same as
 * `m`'s, persistent. A `user_id` of another user cannot be published (the broker refuses it);
 * that happens only to a message the broker dead-lettered itself, and its user then goes into
 * `x-original-user-id` as the worker would have put it.
 */
function copyOf(m: GetMessage, ownUser: string): Options.Publish {
  const p = m.properties;
  const headers = republishableHeaders(p.headers, COPY_HEADER_BUDGET);
  for (const k of DELIVERY_ANNOTATIONS) delete headers[k];
  let userId = propertyString(p.userId);
  if (userId !== undefined && userId !== ownUser) userId = carryOrigin(p, headers, ownUser);
  const timestamp: unknown = p.timestamp;
  const priority: unknown = p.priority;
  return {
    persistent: true,
    contentType: propertyString(p.contentType),
    contentEncoding: propertyString(p.contentEncoding),
    correlationId: propertyString(p.correlationId),
    replyTo: propertyString(p.replyTo),
    expiration: propertyString(p.expiration),
    messageId: propertyString(p.messageId),
    timestamp: typeof timestamp === 'number' ? timestamp : undefined,
    type: propertyString(p.type),
    appId: propertyString(p.appId),
    priority: typeof priority === 'number' ? priority : undefined,
    userId,
    headers,
  };
}

export const publishConfirmed = (
  ch: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish,
): Promise<void> =>
  new Promise<void>((resolve, reject) =>
    ch.publish(exchange, routingKey, content, options, (err) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
    ),
  );

/**
 * An exclusive queue (deleted by the broker with the connection that holds it): one pass over
 * the DLQ at a time, so that two operators' passes do not interleave their copies.
 */
const PASS_LOCK = 'inventory.dlq.lock';

async function lockPass(conn: ChannelModel, waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // the broker closes the channel when another holds the lock
    try {
      await ch.assertQueue(PASS_LOCK, {
        exclusive: true,
        durable: false,
        arguments: { 'x-queue-type': 'classic' },
      });
      await ch.close();
      return;
    } catch (e) {
      const locked = (e as { code?: unknown }).code === 405;
      if (!locked) throw e;
      if (Date.now() > until)
        throw new Error(`another inventory dlq command has been reading ${DLQ} for ${waitMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** What becomes of a dead letter once visited: copied back to the DLQ, or taken out of it. */
export type Visit = 'keep' | 'taken';

/**
 * Goes once round the DLQ: every message there when the pass starts is fetched in order and
 * either kept, as a confirmed copy at the tail, or taken (`visit` published it elsewhere); the
 * original is then acked. So the dead letters end in the order they were in, and no message is
 * ever handed back to the queue: a quorum queue counts a message handed back (by closing the
 * channel, or a reject) as a delivery, and from RabbitMQ 4.0 it drops a message after 20 such
 * deliveries (more in the docs: docs/architecture.md, "Queues, retry tiers, dead letters").
 * A failure stops the pass where it is: what was copied is there twice, nothing is missing.
 */
export async function passDeadLetters(
  url: string,
  visit: (m: GetMessage, position: number, ch: ConfirmChannel) => Promise<Visit>,
  options: { tls?: TlsFiles | undefined; prepare?: (ch: ConfirmChannel) => void } = {},
): Promise<void> {
  const conn = await connectFirst(url, amqpSocketOptions(options.tls));
  try {
    await lockPass(conn, 30_000);
    const ch = await conn.createConfirmChannel();
    options.prepare?.(ch);
    const ownUser = amqpUser(url);
    const { messageCount } = await ch.checkQueue(DLQ);
    // Only the dead letters there now: the copies queue up behind them, as does one that a
    // worker dead-letters meanwhile (it lands among the copies).
    for (let position = 1; position <= messageCount; position++) {
      const m = await ch.get(DLQ, { noAck: false });
      if (!m) break; // someone else took the rest (a purge)
      try {
        if ((await visit(m, position, ch)) === 'keep')
          await publishConfirmed(ch, '', DLQ, m.content, copyOf(m, ownUser));
      } catch (e) {
        // Handed back it is counted as a delivery on RabbitMQ 4.0-4.2 either way; from 4.3 a
        // nack is not, where a channel closed on it still is.
        try {
          ch.nack(m, false, true);
        } catch {
          // the channel is closed already: the broker hands it back itself
        }
        throw e;
      }
      ch.ack(m);
    }
    // closing the channel first: its close-ok comes after the broker processed the acks
    await ch.close();
  } finally {
    await conn.close();
  }
}
