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
