import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startWorker, type Worker } from '../../src/worker.js';
import {
  createTestDatabase,
  dropRedisPrefix,
  dropTestDatabase,
  TEST_MYSQL_SERVER,
  testRedis,
  uniqueName,
} from '../support/isolation.js';
import { createTestVhost, deleteTestVhost, publishEvents } from '../support/rabbit.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/worker.js';

/** A port nobody listens on right now (the OS's pick, released at once). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Every log line the worker writes, parsed. */
const logs: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean))
      logs.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

let worker: Worker;
let base: string;
let proxy: TcpProxy;
let vhost: { vhost: string; url: string };
let mysqlUrl: string;
const prefix = uniqueName('http');

beforeAll(async () => {
  vhost = await createTestVhost('http');
  mysqlUrl = await createTestDatabase('http');
  // the worker reaches MySQL through a proxy the test can cut (the shared server keeps running)
  const server = new URL(TEST_MYSQL_SERVER);
  proxy = new TcpProxy(server.hostname, Number(server.port || 3306));
  await proxy.listen();
  const viaProxy = new URL(mysqlUrl);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const port = await freePort();
  const config = loadConfig({
    ...process.env,
    AMQP_URL: vhost.url,
    MYSQL_URL: viaProxy.toString(),
    REDIS_PREFIX: prefix,
    HTTP_PORT: String(port),
    HTTP_HOST: '127.0.0.1',
    PREFETCH: '50',
    RECONCILE_CRON: 'off',
  });
  worker = await startWorker(config, pino({ level: 'debug' }, sink));
  base = `http://127.0.0.1:${worker.http!.port}`;
});

afterAll(async () => {
  await worker?.close();
  await proxy?.close();
  const redis = testRedis();
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
  if (mysqlUrl) await dropTestDatabase(mysqlUrl);
  if (vhost) await deleteTestVhost(vhost.vhost);
});

const get = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format strictly: every line is a comment or a sample. */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type =
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;

const ev = (type: string, id: string, data: Record<string, unknown>) => ({
  type,
  id,
  tenant: 'shop',
  data,
});

describe('HTTP endpoint', () => {
  test('/healthz answers 200 while the process runs; unknown paths 404', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: '{"status":"ok"}\n' });
    expect((await get('/nope')).status).toBe(404);
  });

  test('/metrics is Prometheus text, and processed events move its counters', async () => {
    const before = parsePrometheus((await get('/metrics')).body);
    expect(
      value(before.samples, 'inventory_events_total', {
        type: 'stock.received',
        outcome: 'applied',
      }),
    ).toBeUndefined();

    await publishEvents(vhost.url, [
      ev('stock.received', 'm-rcv', { sku: 'A', quantity: 10 }),
      ev('stock.received', 'm-rcv', { sku: 'A', quantity: 10 }), // duplicate
      ev('cart.added', 'm-add', { cartId: 'c1', sku: 'A', quantity: 3 }),
    ]);
    await publishEvents(
      vhost.url,
      [ev('cart.added', 'm-bad', { cartId: 'c2', sku: 'A', quantity: -1 })], // dead-lettered
      { invalid: true },
    );
    let after = before;
    await waitFor(
      async () => {
        after = parsePrometheus((await get('/metrics')).body);
        const total = after.samples
          .filter((s) => s.name === 'inventory_events_total')
          .reduce((n, s) => n + s.value, 0);
        return total === 4 && value(after.samples, 'inventory_reservations') !== undefined;
      },
      30_000,
      'four events counted and holds counted',
    );
    const s = after.samples;
    expect(after.types.get('inventory_events_total')).toBe('counter');
    expect(after.types.get('inventory_event_processing_seconds')).toBe('histogram');
    expect(value(s, 'inventory_events_total', { type: 'stock.received', outcome: 'applied' })).toBe(
      1,
    );
    expect(
      value(s, 'inventory_events_total', { type: 'stock.received', outcome: 'duplicate' }),
    ).toBe(1);
    expect(value(s, 'inventory_events_total', { type: 'cart.added', outcome: 'applied' })).toBe(1);
    expect(value(s, 'inventory_events_total', { type: 'cart.added', outcome: 'dead-letter' })).toBe(
      1,
    );
    expect(
      value(s, 'inventory_event_processing_seconds_count', {
        type: 'cart.added',
        outcome: 'applied',
      }),
    ).toBe(1);
    expect(
      value(s, 'inventory_event_processing_seconds_bucket', {
        type: 'cart.added',
        outcome: 'applied',
        le: '+Inf',
      }),
    ).toBe(1);
    expect(value(s, 'inventory_dlq_messages')).toBe(1);
    expect(value(s, 'inventory_reservations', { kind: 'cart', state: 'open' })).toBe(1);
    expect(value(s, 'inventory_jobs', { queue: 'cart-expiry', state: 'delayed' })).toBe(1);
    expect(value(s, 'inventory_jobs', { queue: 'cart-expiry', state: 'failed' })).toBe(0);
    expect(value(s, 'inventory_jobs', { queue: 'reconcile', state: 'failed' })).toBe(0);
    expect(value(s, 'inventory_outbox_entries')).toBe(0);
    expect(value(s, 'inventory_outbox_lag_seconds')).toBe(0);
    expect(value(s, 'inventory_events_in_flight')).toBe(0);
    expect(value(s, 'process_cpu_seconds_total')).toBeGreaterThan(0);

    // and the logs: every processed event at debug, every failure at warn, with its context
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 20,
        eventId: 'm-add',
        type: 'cart.added',
        tenant: 'shop',
        outcome: 'applied',
      }),
    );
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 20,
        eventId: 'm-rcv',
        type: 'stock.received',
        outcome: 'duplicate',
      }),
    );
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        eventId: 'm-bad', // not decoded: named by its AMQP message id and routing key
        type: 'cart.added',
        outcome: 'dead-letter',
        reason: expect.stringContaining('quantity') as unknown,
      }),
    );
  });

  test('/readyz: 200 when ready, 503 naming MySQL while it is unreachable, 200 again after', async () => {
    await waitFor(async () => (await get('/readyz')).status === 200, 20_000, 'ready');
    const ready = JSON.parse((await get('/readyz')).body) as Record<string, unknown>;
    expect(ready).toMatchObject({
      status: 'ready',
      checks: {
        rabbitmq: { ok: true },
        redis: { ok: true },
        mysql: { ok: true },
        outbox: { ok: true },
      },
    });

    proxy.refuse();
    try {
      let down: { status: number; body: string } = { status: 0, body: '' };
      await waitFor(
        async () => (down = await get('/readyz')).status === 503,
        20_000,
        'unready without MySQL',
      );
      expect(JSON.parse(down.body)).toMatchObject({
        status: 'unready',
        checks: { mysql: { ok: false }, redis: { ok: true }, rabbitmq: { ok: true } },
      });
      // liveness is not readiness: the process is still up
      expect((await get('/healthz')).status).toBe(200);
    } finally {
      proxy.restore();
    }
    await waitFor(async () => (await get('/readyz')).status === 200, 30_000, 'ready again');
  });
});
