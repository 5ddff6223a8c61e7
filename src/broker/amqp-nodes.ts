/**
 * Connecting to the RabbitMQ nodes `AMQP_URL` names (one, or a cluster's: see amqp-address.ts).
 *
 * The worker's two connections are recovered by amqplib, which reconnects to the address it was
 * first given. To move on to the next node, it is given a {@link RotatingAddress}: an address
 * object amqplib reads afresh on every attempt, advanced before each retry.
 */
import amqp, { type ChannelModel } from 'amqplib';
import { amqpNodes, type AmqpNode } from '../amqp-address.js';

export { amqpNodes, type AmqpNode };

/**
 * The address amqplib's recovery connects to: the current node's fields, read by amqplib on
 * each attempt. `advance()` moves to the next node; the recovery's `calculateDelay` calls it
 * before every retry, so a lost node is followed by the next one, and the list goes round.
 */
export class RotatingAddress {
  private index = 0;

  constructor(private readonly nodes: readonly AmqpNode[]) {
    if (nodes.length === 0) throw new Error('no RabbitMQ node to connect to');
  }

  get current(): AmqpNode {
    return this.nodes[this.index]!;
  }

  get count(): number {
    return this.nodes.length;
  }

  advance(): AmqpNode {
    this.index = (this.index + 1) % this.nodes.length;
    return this.current;
  }

  // What amqplib's `connect` reads from an address object.
  get protocol(): string {
    return this.current.protocol;
  }
  get hostname(): string {
    return this.current.hostname;
  }
  get port(): number {
    return this.current.port;
  }
  get username(): string {
    return this.current.username;
  }
  get password(): string {
    return this.current.password;
  }
  get vhost(): string {
    return this.current.vhost;
  }
  get heartbeat(): number | undefined {
    return this.current.heartbeat;
  }
  get frameMax(): number | undefined {
    return this.current.frameMax;
  }
  get channelMax(): number | undefined {
    return this.current.channelMax;
  }
}

/**
 * The wait before reconnect attempt `attempt` (1, 2, ...), after moving to the next node: a
 * short pause while the other nodes have not all been tried since the last loss, then
 * exponential backoff up to `maxMs` once every node has failed.
 */
export function nextNodeDelay(
  address: RotatingAddress,
  attempt: number,
  { firstMs, maxMs }: { firstMs: number; maxMs: number },
): number {
  address.advance();
  const round = Math.floor((attempt - 1) / address.count);
  if (round === 0) return firstMs;
  const base = Math.min(maxMs, firstMs * 2 ** round);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** A connection without recovery (the CLI's): the nodes are tried in order, the first that opens. */
export async function connectFirst(value: string, socketOptions: object): Promise<ChannelModel> {
  let last: unknown;
  for (const node of amqpNodes(value)) {
    try {
      return await amqp.connect(new RotatingAddress([node]), socketOptions);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
