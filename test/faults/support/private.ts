/**
 * Private instances of Redis, MariaDB and RabbitMQ on free ports, for the scenarios that stop
 * a service: the shared services on the standard ports are never touched. Each is a child
 * process with its data in a temporary directory; `close()` kills it and removes the directory.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import amqp from 'amqplib';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP port nobody listens on, below the ephemeral range (32768+): RabbitMQ refused ports
 * there that the kernel may hand to outgoing connections.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>) {
  const end = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Waits for a child to exit, or kills it with SIGKILL after `graceMs`. */
async function exited(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export interface PrivateRedisOptions {
  /** `requirepass`: clients must AUTH with it */
  password?: string;
  /** TLS only (`--port 0`): PEM files of the server's certificate and key, and the CA of clients */
  tls?: { cert: string; key: string; ca: string; clientCert: string; clientKey: string };
}

/** redis-server without persistence: a restart comes back empty. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly o: PrivateRedisOptions,
  ) {}

  static async start(o: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), o);
    await r.start();
    return r;
  }

  /** The URL, with the password when there is one (`rediss:` with TLS). */
  get url(): string {
    const auth = this.o.password ? `:${encodeURIComponent(this.o.password)}@` : '';
    return `${this.o.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const { password, tls } = this.o;
    const listen = tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', tls.cert]
      : ['--port', String(this.port)];
    this.child = spawn(
      'redis-server',
      [
        ...listen,
        ...(tls ? ['--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca] : []),
        ...(password ? ['--requirepass', password] : []),
        ...['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ],
      { stdio: 'ignore' },
    );
    const clientTls = tls
      ? {
          tls: {
            ca: readFileSync(tls.ca),
            cert: readFileSync(tls.clientCert),
            key: readFileSync(tls.clientKey),
          },
        }
      : {};
    await until('private Redis', 15_000, async () => {
      const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, ...clientTls });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } finally {
        c.disconnect();
      }
    });
  }

  /** Kills the server (nothing is saved) and starts an empty one on the same port. */
  async restartEmpty(): Promise<void> {
    await this.stop('SIGKILL');
    await this.start();
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c) return;
    c.kill(signal);
    await exited(c, 10_000);
  }

  close(): Promise<void> {
    return this.stop('SIGKILL');
  }
}

/** mariadbd on its own data directory; root over TCP with no password. */
export class PrivateMariaDb {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly extraArgs: string[],
  ) {}

  /** `extraArgs`: more server options (e.g. `--ssl-cert=…`). */
  static async start(extraArgs: string[] = []): Promise<PrivateMariaDb> {
    const dir = mkdtempSync(join(tmpdir(), 'faults-mariadb-'));
    await run('mariadb-install-db', [
      '--no-defaults',
      `--datadir=${dir}/data`,
      '--auth-root-authentication-method=normal',
      '--user=root',
      '--skip-test-db',
    ]);
    const m = new PrivateMariaDb(await freePort(), dir, extraArgs);
    await m.start();
    return m;
  }

  /** The server URL, without a database. */
  get server(): string {
    return `mysql://root@127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${this.dir}/data`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${this.dir}/mysqld.sock`,
        `--pid-file=${this.dir}/mysqld.pid`,
        '--user=root',
        '--innodb-buffer-pool-size=64M',
        ...this.extraArgs,
      ],
      { stdio: 'ignore' },
    );
    await until('private MariaDB', 60_000, async () => {
      const c = await createConnection({ host: '127.0.0.1', port: this.port, user: 'root' });
      await c.end();
      return true;
    });
  }

  /** A real stop: SIGTERM, the server shuts down cleanly (SIGKILL after 30 s). */
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c) return;
    c.kill('SIGTERM');
    await exited(c, 30_000);
  }

  async close(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (c) {
      c.kill('SIGKILL');
      await exited(c, 5_000);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A RabbitMQ node of its own (name faults-<port>@localhost), with its own config file so the
 * machine's /etc/rabbitmq listener (5672) is not inherited, and no plugins.
 */
export class PrivateRabbit {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly distPort: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<PrivateRabbit> {
    const port = await freePort();
    let distPort = await freePort();
    while (distPort === port) distPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'faults-rabbit-'));
    mkdirSync(join(dir, 'mnesia'));
    mkdirSync(join(dir, 'log'));
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
    writeFileSync(
      join(dir, 'rabbitmq.conf'),
      `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users = none\n`,
    );
    writeFileSync(join(dir, 'rabbitmq-env.conf'), 'ERL_EPMD_ADDRESS=127.0.0.1\n');
    // the server scripts drop to the rabbitmq user when started as root
    await run('chown', ['-R', 'rabbitmq:rabbitmq', dir]).catch(() => undefined);
    const r = new PrivateRabbit(port, distPort, dir);
    await r.start();
    return r;
  }

  get node(): string {
    return `faults-${this.port}@localhost`;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  private get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_PID_FILE: join(this.dir, 'rabbit.pid'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
    };
  }

  ctl(...args: string[]): Promise<{ stdout: string }> {
    return run('rabbitmqctl', ['-n', this.node, ...args], { env: this.env, cwd: this.dir });
  }

  private async start(): Promise<void> {
    this.child = spawn('rabbitmq-server', [], { env: this.env, cwd: this.dir, stdio: 'ignore' });
    await until('private RabbitMQ', 120_000, async () => {
      await this.ctl('-q', 'await_startup', '--timeout', '5');
      return true;
    });
    await this.waitAmqp();
  }

  private async waitAmqp(): Promise<void> {
    await until('private RabbitMQ AMQP listener', 60_000, async () => {
      const c = await amqp.connect(this.url);
      await c.close();
      return true;
    });
  }

  /**
   * `n` nodes started side by side, then joined into one cluster with the first (one Erlang
   * cookie: every node runs as the rabbitmq user). The worker's quorum queues, declared on any
   * node, get a member on each.
   */
  static async cluster(n: number): Promise<PrivateRabbit[]> {
    const nodes: PrivateRabbit[] = [];
    try {
      for (let i = 0; i < n; i++) nodes.push(await PrivateRabbit.start());
      const [first, ...others] = nodes;
      for (const node of others) {
        await node.ctl('-q', 'stop_app');
        await node.ctl('-q', 'reset');
        await node.ctl('-q', 'join_cluster', first!.node);
        await node.ctl('-q', 'start_app');
        await node.ctl('-q', 'await_startup', '--timeout', '60');
        await node.waitAmqp();
      }
      return nodes;
    } catch (e) {
      await Promise.all(nodes.map((node) => node.close()));
      throw e;
    }
  }

  /** The names of the cluster's running nodes, as this node sees them. */
  async runningNodes(): Promise<string[]> {
    const { stdout } = await this.ctl('-q', 'cluster_status', '--formatter', 'json');
    return (JSON.parse(stdout) as { running_nodes: string[] }).running_nodes;
  }

  /** The whole node stops, as a machine that goes away (its files are kept until `close`). */
  async stopNode(): Promise<void> {
    await this.ctl('-q', 'stop');
    const c = this.child;
    this.child = undefined;
    if (c) await exited(c, 30_000);
  }

  /** The broker application stops (every connection drops) and starts again after `downMs`. */
  async restart(downMs: number): Promise<void> {
    await this.ctl('-q', 'stop_app');
    await sleep(downMs);
    await this.ctl('-q', 'start_app');
    await this.ctl('-q', 'await_startup', '--timeout', '60');
    await this.waitAmqp();
  }

  async close(): Promise<void> {
    await this.ctl('-q', 'stop').catch(() => undefined);
    const c = this.child;
    this.child = undefined;
    if (c) await exited(c, 15_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One redis-server of a PrivateRedisCluster. */
interface ClusterNode {
  port: number;
  busPort: number;
  dir: string;
  child: ChildProcess | undefined;
}

/**
 * A Redis Cluster of its own on loopback: 3 masters and 3 replicas (redis-server
 * `--cluster-enabled yes`, made with `redis-cli --cluster create --cluster-replicas 1`), no
 * persistence, a short `cluster-node-timeout` so that a replica takes over a dead master in a
 * few seconds. `close()` kills every node and removes their directories.
 */
export class PrivateRedisCluster {
  private constructor(
    private readonly nodes: ClusterNode[],
    readonly nodeTimeoutMs: number,
  ) {}

  static async start(o: { nodeTimeoutMs?: number } = {}): Promise<PrivateRedisCluster> {
    const used = new Set<number>();
    const port = async () => {
      let p = await freePort();
      while (used.has(p)) p = await freePort();
      used.add(p);
      return p;
    };
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < 6; i++)
      nodes.push({
        port: await port(),
        busPort: await port(),
        dir: mkdtempSync(join(tmpdir(), 'faults-rcluster-')),
        child: undefined,
      });
    const c = new PrivateRedisCluster(nodes, o.nodeTimeoutMs ?? 1000);
    try {
      for (const n of nodes) c.spawn(n);
      for (const n of nodes) await until('cluster node', 15_000, () => c.ping(n.port));
      await run('redis-cli', [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ]);
      await c.healthy(60_000);
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  private spawn(n: ClusterNode): void {
    n.child = spawn(
      'redis-server',
      [
        ...['--port', String(n.port), '--cluster-port', String(n.busPort)],
        ...['--bind', '127.0.0.1', '--dir', n.dir, '--save', '', '--appendonly', 'no'],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
        ...['--cluster-node-timeout', String(this.nodeTimeoutMs)],
      ],
      { stdio: 'ignore' },
    );
  }

  /** The seeds for REDIS_CLUSTER_NODES: every node. */
  get seeds(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`);
  }

  /** A REDIS_URL to go with the seeds (scheme only: no password). */
  get url(): string {
    return `redis://127.0.0.1:${this.nodes[0]!.port}`;
  }

  /** A command on one node (its reply as text), by redis-cli. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
    return stdout.trim();
  }

  private async ping(port: number): Promise<boolean> {
    return (await this.cli(port, 'PING')) === 'PONG';
  }

  /** Ports of the live nodes. */
  private live(): ClusterNode[] {
    return this.nodes.filter((n) => n.child);
  }

  /**
   * Waits until every live node says `cluster_state:ok`, three masters serve every slot,
   * and each master that should have a replica has one in sync.
   */
  async healthy(timeoutMs: number, replicas = 3): Promise<void> {
    await until('cluster state ok', timeoutMs, async () => {
      for (const n of this.live()) {
        if (!(await this.cli(n.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      }
      const masters = await this.masters();
      if (masters.length !== 3) return false;
      let synced = 0;
      for (const m of masters) {
        const info = await this.cli(m.port, 'INFO', 'replication');
        if (/slave\d+:.*state=online/.test(info)) synced++;
      }
      return synced >= replicas;
    });
  }

  /** The masters that serve slots now, with their slot ranges (CLUSTER SLOTS of a live node). */
  async masters(): Promise<{ port: number; ranges: [number, number][] }[]> {
    const probe = this.live()[0]!;
    const c = new Redis(probe.port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const slots = (await c.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const byPort = new Map<number, [number, number][]>();
      for (const [from, to, [, port]] of slots) {
        const r = byPort.get(port) ?? [];
        r.push([from, to]);
        byPort.set(port, r);
      }
      return [...byPort].map(([port, ranges]) => ({ port, ranges }));
    } finally {
      c.disconnect();
    }
  }

  /** The slot of a key, as the cluster computes it (CLUSTER KEYSLOT). */
  async keySlot(key: string): Promise<number> {
    return Number(await this.cli(this.live()[0]!.port, 'CLUSTER', 'KEYSLOT', key));
  }

  /** The port of the master serving the key's slot now. */
  async masterOf(key: string): Promise<number> {
    const slot = await this.keySlot(key);
    for (const m of await this.masters())
      if (m.ranges.some(([from, to]) => slot >= from && slot <= to)) return m.port;
    throw new Error(`no master serves slot ${slot}`);
  }

  /**
   * Tenant names (`<stem>0`, `<stem>1`, ...) whose hash tag `{tenant}` lands on each master,
   * `perMaster` of them per master: the tenants of a test spread over the whole cluster.
   */
  async tenantsOnEveryMaster(stem: string, perMaster: number): Promise<Map<number, string[]>> {
    const byMaster = new Map<number, string[]>((await this.masters()).map((m) => [m.port, []]));
    for (let i = 0; [...byMaster.values()].some((t) => t.length < perMaster); i++) {
      if (i > 1000) throw new Error('no tenant name lands on every master');
      const tenant = `${stem}${i}`;
      const on = byMaster.get(await this.masterOf(`x:{${tenant}}:meta`))!;
      if (on.length < perMaster) on.push(tenant);
    }
    return byMaster;
  }

  /** The port of the replica of the master on `port`. */
  async replicaOf(port: number): Promise<number> {
    const info = await this.cli(port, 'INFO', 'replication');
    const m = /slave\d+:ip=[^,]+,port=(\d+)/.exec(info);
    if (!m) throw new Error(`master ${port} has no replica`);
    return Number(m[1]);
  }

  /** SIGSTOP (`resume`: SIGCONT) of the node on `port`: a replica stops reading from its master. */
  pause(port: number): void {
    this.child(port).kill('SIGSTOP');
  }

  resume(port: number): void {
    this.child(port).kill('SIGCONT');
  }

  private child(port: number): ChildProcess {
    const child = this.nodes.find((x) => x.port === port)?.child;
    if (!child) throw new Error(`no live node on ${port}`);
    return child;
  }

  /** `kill -9` of the node on `port`: what it had not replicated is gone. */
  async kill9(port: number): Promise<void> {
    const n = this.nodes.find((x) => x.port === port);
    const child = n?.child;
    if (!n || !child) throw new Error(`no live node on ${port}`);
    n.child = undefined;
    child.kill('SIGKILL');
    await exited(child, 5_000);
  }

  async close(): Promise<void> {
    for (const n of this.nodes) {
      const child = n.child;
      n.child = undefined;
      if (child) {
        child.kill('SIGKILL');
        await exited(child, 5_000);
      }
      rmSync(n.dir, { recursive: true, force: true });
    }
  }
}
