import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp, { type GetMessage } from 'amqplib';
import { DLQ } from '../../src/broker/topology.js';
import { assertContract, contractViolation } from './contract.js';
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

/**
 * Publishes CloudEvents to commerce.events with confirms. Every event is first held to the
 * checked-in schema of its type (docs/schemas/): a test event that breaks the contract fails
 * here, loudly, unless the test says it publishes invalid events on purpose (`invalid: true`).
 * `raw` bodies are published as they are, unchecked.
 */
export async function publishEvents(
  url: string,
  events: { type: string; id: string; [k: string]: unknown }[],
  options: {
    raw?: { routingKey: string; body: Buffer; contentType?: string; messageId?: string }[];
    /** these events break the contract on purpose (the worker must dead-letter them) */
    invalid?: boolean;
  } = {},
): Promise<void> {
  const bodies = events.map((e) => ({ specversion: '1.0', source: '/test', ...e }));
  if (!options.invalid) for (const b of bodies) assertContract('consumed', b);
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    for (const [i, e] of events.entries()) {
      ch.publish('commerce.events', e.type, Buffer.from(JSON.stringify(bodies[i])), {
        persistent: true,
        contentType: 'application/cloudevents+json',
        messageId: e.id,
      });
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

export interface CollectedAnnouncement {
  type: string;
  id: string;
  tenant?: string;
  dataschema?: string;
  data: Record<string, unknown>;
}

/**
 * Collects everything the worker announces on inventory.events. Each announcement is held to
 * the schema its `dataschema` names (and its AMQP properties to the contract's); what breaks
 * it is in `violations`, is thrown by `assertValid()` and by `close()`.
 */
export async function collectAnnouncements(url: string): Promise<{
  events: CollectedAnnouncement[];
  violations: string[];
  assertValid(): void;
  close(): Promise<void>;
}> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.assertExchange('inventory.events', 'topic', { durable: true });
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, 'inventory.events', '#');
  const events: CollectedAnnouncement[] = [];
  const violations: string[] = [];
  await ch.consume(
    queue,
    (m) => {
      if (!m) return;
      const e = JSON.parse(m.content.toString()) as CollectedAnnouncement;
      events.push(e);
      const why = announcementViolation(e, m.fields.routingKey, m.properties);
      if (why) {
        violations.push(why);
        console.error(why);
      }
    },
    { noAck: true },
  );
  const assertValid = () => {
    if (violations.length > 0)
      throw new Error(
        `${violations.length} announcement(s) break the contract:\n${violations.join('\n')}`,
      );
  };
  return {
    events,
    violations,
    assertValid,
    close: async () => {
      await conn.close().catch(() => undefined);
      assertValid();
    },
  };
}

/** What is wrong with a received announcement, or undefined. */
function announcementViolation(
  e: CollectedAnnouncement,
  routingKey: string,
  p: { contentType?: unknown; messageId?: unknown },
): string | undefined {
  const where = `announcement ${e.type} ${e.id}`;
  if (p.contentType !== 'application/cloudevents+json')
    return `${where}: content type ${String(p.contentType)}`;
  if (p.messageId !== e.id) return `${where}: message-id ${String(p.messageId)} is not its id`;
  if (routingKey !== e.type) return `${where}: routing key ${routingKey} is not its type`;
  const why = contractViolation('published', e);
  return why === undefined ? undefined : `${where} breaks its schema (${e.dataschema}): ${why}`;
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
