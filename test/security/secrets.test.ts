/**
 * No password reaches what the worker and the CLI print. Every URL carries the same generated
 * password (an account made for this test on RabbitMQ and MySQL, a private Redis with
 * `requirepass`); each service is broken in turn while the worker runs, the CLI runs against
 * it, both start with a wrong password and with a malformed URL; every byte of stdout and
 * stderr, every `/readyz` and `/metrics` body and every message left in the queues is
 * searched for the password: none may contain it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DLQ, RETRY_DELAYS_MS, retryQueueName } from '../../src/broker/topology.js';
import { inventory, type CliResult } from '../cli/run.js';
import { World } from '../faults/support/harness.js';
import { freePort, PrivateRedis } from '../faults/support/private.js';
import { WorkerProcess } from '../faults/support/worker-process.js';
import { TEST_AMQP_URL, TEST_MYSQL_SERVER, uniqueName } from '../support/isolation.js';
import { createTestVhost, deleteTestVhost, publishEvents } from '../support/rabbit.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Hex: the same in a URL, encoded or not, and in no other text by chance. */
const PW = randomBytes(16).toString('hex');
const OTHER = randomBytes(16).toString('hex');
const TENANT = 'sec';

/** Everything printed or served, each with where it came from. */
const seen: { from: string; text: string }[] = [];
const saw = (from: string, text: string) => seen.push({ from, text });

let redis: PrivateRedis;
let root: Connection;
let world: World;
let worker: WorkerProcess;
let vhost: string;
let httpPort: number;
const rabbitUser = uniqueName('sec');
const mysqlUser = uniqueName('sec').slice(0, 32);
let env: Record<string, string>;
let events = 0;

const rabbit = (...args: string[]) => run('rabbitmqctl', ['-q', ...args]);

async function cli(label: string, args: string[], extra: Record<string, string> = {}) {
  const r = await inventory(args, { ...env, ...extra });
  saw(`cli ${label} ${args.join(' ')} (exit ${r.code})`, r.stdout + r.stderr);
  return r;
}

async function readyz(): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  const body = await res.text();
  saw('/readyz', body);
  return { status: res.status, body };
}

/** Polls /readyz until `ok` holds for its body. */
async function readyzUntil(what: string, ok: (r: { status: number; body: string }) => boolean) {
  const end = Date.now() + 90_000;
  for (;;) {
    const r = await readyz().catch(() => undefined);
    if (r && ok(r)) {
      const metrics = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
      saw('/metrics', await metrics.text());
      return r;
    }
    if (Date.now() > end) throw new Error(`/readyz never ${what}:\n${worker.tail()}`);
    await sleep(300);
  }
}

const failing = (check: string) => (r: { body: string }) =>
  r.body.includes(`"${check}":{"ok":false`);
const ready = (r: { status: number }) => r.status === 200;

async function publish(n: number): Promise<void> {
  const list = Array.from({ length: n }, () => ({
    type: 'stock.received',
    id: `sec-${++events}`,
    tenant: TENANT,
    data: { sku: 'S', quantity: 1 },
  }));
  // as guest: the test's user is the one being broken
  await publishEvents(`${TEST_AMQP_URL.replace(/\/$/, '')}/${encodeURIComponent(vhost)}`, list);
}

async function allProcessed(): Promise<void> {
  const end = Date.now() + 90_000;
  while ((await world.processed().catch(() => 0)) < events) {
    if (Date.now() > end) throw new Error(`events not processed:\n${worker.tail()}`);
    await sleep(250);
  }
}

/** Kills the MySQL user's open connections (a password change does not end them). */
async function killMysqlSessions(): Promise<void> {
  const [rows] = await root.query('SELECT id FROM information_schema.processlist WHERE user = ?', [
    mysqlUser,
  ]);
  for (const { id } of rows as { id: number }[])
    await root.query('KILL CONNECTION ?', [id]).catch(() => undefined);
}

/**
 * A worker process that is expected not to get far: its output is kept; it is killed if it
 * has not exited after `ms` (one that hangs on a service that refuses it).
 */
async function doomedWorker(
  label: string,
  extra: Record<string, string>,
  ms = 10_000,
): Promise<WorkerProcess> {
  const w = new WorkerProcess(`sec-${label}`, { ...env, HTTP_PORT: '0', ...extra }, [], (c) =>
    saw(`worker ${label}`, c),
  );
  world.workers.push(w);
  await w.start(ms).catch(() => undefined);
  await w.kill();
  return w;
}

beforeAll(async () => {
  redis = await PrivateRedis.start({ password: PW });
  vhost = (await createTestVhost('sec')).vhost;
  await rabbit('add_user', rabbitUser, PW);
  await rabbit('set_permissions', '-p', vhost, rabbitUser, '.*', '.*', '.*');
  const server = new URL(TEST_MYSQL_SERVER);
  root = await createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username || 'root'),
    password: decodeURIComponent(server.password),
  });
  await root.query("CREATE USER ?@'%' IDENTIFIED BY ?", [mysqlUser, PW]);
  // the World's databases are named t_sec_<random>: the user may own those and no other
  await root.query("GRANT ALL PRIVILEGES ON `t\\_sec\\_%`.* TO ?@'%'", [mysqlUser]);
  const amqpUrl = `amqp://${rabbitUser}:${PW}@127.0.0.1:${new URL(TEST_AMQP_URL).port || 5672}/${encodeURIComponent(vhost)}`;
  world = await World.create('sec', {
    amqpUrl,
    mysqlServer: `mysql://${mysqlUser}:${PW}@${server.hostname}:${server.port || 3306}`,
    redisUrl: redis.url,
  });
  httpPort = await freePort();
  env = world.workerEnv({
    HTTP_PORT: String(httpPort),
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
  });
  expect(Object.values(env).filter((v) => v.includes(PW))).toHaveLength(3);
  worker = new WorkerProcess('sec-w', env, [], (c) => saw('worker', c));
  world.workers.push(worker);
  await worker.start();
}, 240_000);

afterAll(async () => {
  await world?.close();
  await redis?.close();
  await root?.query("DROP USER IF EXISTS ?@'%'", [mysqlUser]).catch(() => undefined);
  await root?.end();
  await rabbit('delete_user', rabbitUser).catch(() => undefined);
  if (vhost) await deleteTestVhost(vhost);
});

describe('no secret in any output', () => {
  test('the worker and the CLI with every service working', async () => {
    await publish(3);
    await allProcessed();
    await readyzUntil('ready', ready);
    expect((await cli('ok', ['stats', '--tenant', TENANT])).code).toBe(0);
    expect((await cli('ok', ['dlq', 'list'])).code).toBe(0);
  }, 120_000);

  test('Redis stops', async () => {
    await redis.stop();
    await readyzUntil('showed Redis failing', failing('redis'));
    await publish(2);
    const stats = await cli('redis down', ['stats', '--tenant', TENANT]);
    expect(stats.stdout).toContain('Redis did not answer');
    await sleep(2000);
    await redis.start(); // empty: the worker reloads the tenant from MySQL
    await readyzUntil('ready again', ready);
    await allProcessed();
  }, 180_000);

  test("MySQL refuses the worker's password", async () => {
    await root.query("ALTER USER ?@'%' IDENTIFIED BY ?", [mysqlUser, OTHER]);
    await killMysqlSessions();
    await readyzUntil('showed MySQL failing', failing('mysql'));
    await publish(2);
    for (const args of [['stats'], ['low-stock'], ['migrate'], ['history', 'S']]) {
      const r = await cli('mysql refused', args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Access denied/);
    }
    await sleep(2000);
    await root.query("ALTER USER ?@'%' IDENTIFIED BY ?", [mysqlUser, PW]);
    await readyzUntil('ready again', ready);
    await allProcessed();
  }, 180_000);

  test("RabbitMQ refuses the worker's password", async () => {
    await rabbit('change_password', rabbitUser, OTHER);
    await rabbit('close_all_connections', '-p', vhost, 'test: password changed');
    await readyzUntil('showed RabbitMQ failing', failing('rabbitmq'));
    for (const args of [
      ['dlq', 'list'],
      ['location', 'upsert', 'L1'],
    ]) {
      const r = await cli('rabbitmq refused', args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/ACCESS_REFUSED|403/);
    }
    await rabbit('change_password', rabbitUser, PW);
    await readyzUntil('ready again', ready);
  }, 180_000);

  test('a worker and the CLI started with a wrong password or a closed port', async () => {
    const port = await freePort();
    const wrongRedis = redis.url.replace(PW, OTHER);
    const wrongMysql = env.MYSQL_URL!.replace(`${PW}@`, `${PW}x@`);
    const closedAmqp = env.AMQP_URL!.replace(/@[^/]+/, `@127.0.0.1:${port}`);
    const closedMysql = env.MYSQL_URL!.replace(/@[^/]+/, `@127.0.0.1:${port}`);
    const w = await doomedWorker('wrong-mysql', { MYSQL_URL: wrongMysql }, 90_000);
    expect(w.exits[0]?.code).toBe(1);
    await doomedWorker('wrong-redis', { REDIS_URL: wrongRedis });
    await doomedWorker('wrong-amqp', { AMQP_URL: env.AMQP_URL!.replace(`${PW}@`, `${PW}x@`) });
    await doomedWorker('closed-amqp', { AMQP_URL: closedAmqp });
    expect((await cli('wrong', ['stats'], { MYSQL_URL: wrongMysql })).code).not.toBe(0);
    expect((await cli('closed', ['stats'], { MYSQL_URL: closedMysql })).code).toBe(69);
    expect((await cli('closed', ['dlq', 'list'], { AMQP_URL: closedAmqp })).code).toBe(69);
    const wrongAmqp = env.AMQP_URL!.replace(`${PW}@`, `${OTHER}@`);
    expect((await cli('wrong', ['dlq', 'list'], { AMQP_URL: wrongAmqp })).code).not.toBe(0);
    // BI_PASSWORD is a secret too: refused by MySQL, it must not be echoed either
    const bi = await cli('wrong', ['bi-grant', '--user', 'bi_sec'], {
      MYSQL_URL: wrongMysql,
      BI_PASSWORD: PW,
    });
    expect(bi.code).not.toBe(0);
  }, 240_000);

  test('a malformed URL with the password in each variable', async () => {
    for (const [name, bad] of [
      ['AMQP_URL', env.AMQP_URL!.replace('127.0.0.1', '127.0.0.1:notaport')],
      ['AMQP_URL', `amqp:${rabbitUser}:${PW}@host`],
      ['REDIS_URL', redis.url.replace('redis://', 'redis:/ /')],
      ['MYSQL_URL', `${env.MYSQL_URL!}?ssl=maybe`],
      ['MYSQL_URL', env.MYSQL_URL!.replace('mysql:', 'mariadb:')],
    ] as const) {
      const w = await doomedWorker(`config-${name}`, { [name]: bad }, 90_000);
      expect(w.exits[0]?.code).toBe(78);
      // the worker thread checks the configuration; the main thread prints why it is invalid
      const said = seen.filter((s) => s.from === `worker config-${name}`).map((s) => s.text);
      expect(said.join('')).toContain(`invalid configuration:\n  ${name}=`);
      const r: CliResult = await cli('config', ['stats'], { [name]: bad });
      expect(r.code).toBe(78);
      expect(r.stderr).toContain(name);
    }
  }, 240_000);

  test('nothing printed, served or left in a queue holds the password', async () => {
    await worker.stop();
    // what is left in the DLQ and the retry tiers (their reasons come from errors)
    const conn = await amqp.connect(
      `${TEST_AMQP_URL.replace(/\/$/, '')}/${encodeURIComponent(vhost)}`,
    );
    try {
      const ch = await conn.createChannel();
      for (const q of [DLQ, ...RETRY_DELAYS_MS.map(retryQueueName)]) {
        for (;;) {
          const m = await ch.get(q, { noAck: true }).catch(() => false as const);
          if (!m) break;
          saw(`queue ${q}`, JSON.stringify(m.properties) + m.content.toString());
        }
      }
    } finally {
      await conn.close();
    }
    const all = seen.map((s) => s.text).join('\n');
    // what was searched is what it should be: the worker's logs and the failures above
    expect(all).toContain('worker consuming');
    for (const check of ['redis', 'mysql', 'rabbitmq'])
      expect(seen.some((s) => s.from === '/readyz' && failing(check)({ body: s.text }))).toBe(true);
    expect(all).toMatch(/invalid configuration/);
    expect(seen.some((s) => s.from === '/metrics')).toBe(true);
    const leaks = seen
      .filter((s) => s.text.includes(PW))
      .map((s) => {
        const at = s.text.indexOf(PW);
        return `${s.from}: …${s.text.slice(Math.max(0, at - 200), at + 60)}…`;
      });
    expect(leaks).toEqual([]);
  }, 60_000);
});
