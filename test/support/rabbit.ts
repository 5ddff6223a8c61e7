import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp, { type GetMessage } from 'amqplib';
import { DLQ } from '../../src/broker/topology.js';
import { TEST_AMQP_URL, uniqueName } from './isolation.js';

const run = promisify(execFile);

/** A RabbitMQ virtual host of its own: the contract's fixed names without touching other runs. */
export async function createTestVhost(label: string): Promise<{ vhost: string; url: string }> {
  const vhost = uniqueName(label);
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
  return { vhost, url: `${TEST_AMQP_URL.replace(/\/$/, '')}/${encodeURIComponent(vhost)}` };
}

export async function deleteTestVhost(vhost: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => undefined);
}

/** Closes every client connection of a vhost, as a broker restart would. */
export async function closeVhostConnections(vhost: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'close_all_connections', '-p', vhost, 'test: connection cut']);
}

/** Publishes CloudEvents to commerce.events with confirms. */
export async function publishEvents(
  url: string,
  events: { type: string; id: string; [k: string]: unknown }[],
  options: {
    raw?: { routingKey: string; body: Buffer; contentType?: string; messageId?: string }[];
  } = {},
): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    for (const e of events) {
      ch.publish(
        'commerce.events',
        e.type,
        Buffer.from(JSON.stringify({ specversion: '1.0', source: '/test', ...e })),
        {
          persistent: true,
          contentType: 'application/cloudevents+json',
          messageId: e.id,
        },
      );
    }
    for (const r of options.raw ?? []) {
      ch.publish('commerce.events', r.routingKey, r.body, {
        persistent: true,
        ...(r.contentType ? { contentType: r.contentType } : {}),
        ...(r.messageId ? { messageId: r.messageId } : {}),
      });
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

/** Collects everything the worker announces on inventory.events. */
export async function collectAnnouncements(url: string): Promise<{
  events: { type: string; id: string; data: Record<string, unknown> }[];
  close(): Promise<void>;
}> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.assertExchange('inventory.events', 'topic', { durable: true });
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, 'inventory.events', '#');
  const events: { type: string; id: string; data: Record<string, unknown> }[] = [];
  await ch.consume(
    queue,
    (m) => {
      if (m) events.push(JSON.parse(m.content.toString()) as (typeof events)[number]);
    },
    { noAck: true },
  );
  return { events, close: () => conn.close() };
}

/** Removes and returns every message in the vhost's `inventory.dlq`. */
export async function takeDeadLetters(amqpUrl: string): Promise<GetMessage[]> {
  const conn = await amqp.connect(amqpUrl);
  try {
    const ch = await conn.createChannel();
    const out: GetMessage[] = [];
    for (;;) {
      const m = await ch.get(DLQ, { noAck: true });
      if (!m) break;
      out.push(m);
    }
    return out;
  } finally {
    await conn.close();
  }
}

/**
 * A RabbitMQ user of its own (users are global to the broker: the name is unique per run), with
 * permissions on one vhost only; `deleteTestUser` removes it.
 */
export async function createTestUser(
  vhost: string,
  label: string,
  permissions: { configure: string; write: string; read: string },
): Promise<{ user: string; password: string }> {
  const user = uniqueName(label);
  const password = uniqueName('pw');
  await run('rabbitmqctl', ['-q', 'add_user', user, password]);
  await run('rabbitmqctl', [
    '-q',
    'set_permissions',
    '-p',
    vhost,
    user,
    permissions.configure,
    permissions.write,
    permissions.read,
  ]);
  return { user, password };
}

export async function deleteTestUser(user: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'delete_user', user]).catch(() => undefined);
}

/** Sets a policy on a test vhost (`apply-to` queues: RabbitMQ 3.x has no `quorum_queues`). */
export async function setTestPolicy(
  vhost: string,
  name: string,
  pattern: string,
  definition: Record<string, unknown>,
): Promise<void> {
  await run('rabbitmqctl', [
    '-q',
    'set_policy',
    '-p',
    vhost,
    name,
    pattern,
    JSON.stringify(definition),
    '--apply-to',
    'queues',
  ]);
}
