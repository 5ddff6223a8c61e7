import { ConfigError } from './errors/config-error.js';
import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';
import { tenantString } from './domain/schemas.js';
import { maskUrl, truncate } from './secrets.js';
import { mysqlUrlWantsTls, readServiceTls, type ServiceTls } from './tls.js';
import { amqpNodes } from './amqp-address.js';

const SECOND = 1;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return protocols.includes(u.protocol) && u.hostname !== '';
      } catch {
        return false;
      }
    },
    {
      message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')} and naming a host`,
    },
  );

const int = (min: number) => z.coerce.number().int().min(min);

const flag = () =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A file read at start-up: TLS certificates and keys. */
const readableFile = z
  .string()
  .refine(
    (path) => {
      try {
        accessSync(path, constants.R_OK);
        return statSync(path).isFile();
      } catch {
        return false;
      }
    },
    { message: 'must name a readable file' },
  )
  .optional();

/** Environment variables the worker reads, with their defaults. */
const schema = z.object({
  /**
   * A cluster: its nodes, comma-separated, full URLs or `host:port` after the first (see
   * src/amqp-address.ts). @default amqp://guest:guest@127.0.0.1:5672
   */
  AMQP_URL: z
    .string()
    .superRefine((v, ctx) => {
      try {
        amqpNodes(v);
      } catch (e) {
        ctx.addIssue({
          code: 'custom',
          message: `must be amqp:// or amqps:// URLs naming a host, comma-separated: ${(e as Error).message}`,
        });
      }
    })
    .default('amqp://guest:guest@127.0.0.1:5672'),
  /** @default redis://127.0.0.1:6379 */
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  /**
   * Redis Cluster: seed nodes as `host:port,host:port` (any of the cluster's nodes; the client
   * discovers the rest). Set, the worker runs on the cluster and REDIS_URL gives only the
   * scheme (`rediss:` for TLS), user and password of every node. Empty: the single Redis of
   * REDIS_URL. @default (empty: a single Redis)
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const out: string[] = [];
      for (const node of v
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean)) {
        const m = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(node);
        if (!m || Number(m[1]) < 1 || Number(m[1]) > 65_535) {
          ctx.addIssue({ code: 'custom', message: `"${node}" is not host:port` });
          return z.NEVER;
        }
        out.push(node);
      }
      return out;
    }),
  /** The database is created if missing. @default mysql://root@127.0.0.1:3306/inventory */
  MYSQL_URL: url(['mysql:'])
    .refine(
      (v) =>
        !URL.canParse(v) || ['true', 'false', null].includes(new URL(v).searchParams.get('ssl')),
      {
        message: '?ssl= must be true or false',
      },
    )
    .default('mysql://root@127.0.0.1:3306/inventory'),
  /**
   * TLS: a CA to verify the server with (PEM; the system's CAs when unset), and a client
   * certificate and its key (PEM, both or neither), for each service. Each applies only when
   * the service's URL asks for TLS (`amqps:`, `rediss:`, `mysql://…?ssl=true`); setting one for
   * a plain-text URL is a configuration error rather than a connection without TLS.
   * @default (none)
   */
  AMQP_TLS_CA_FILE: readableFile,
  AMQP_TLS_CERT_FILE: readableFile,
  AMQP_TLS_KEY_FILE: readableFile,
  REDIS_TLS_CA_FILE: readableFile,
  REDIS_TLS_CERT_FILE: readableFile,
  REDIS_TLS_KEY_FILE: readableFile,
  MYSQL_TLS_CA_FILE: readableFile,
  MYSQL_TLS_CERT_FILE: readableFile,
  MYSQL_TLS_KEY_FILE: readableFile,
  /** Sliding cart-hold lifetime after the last cart.added. @default 3600 (60 minutes) */
  CART_TTL_SECONDS: int(1).default(60 * MINUTE),
  /**
   * How long a cart's hold lasts at least after `cart.checkout-started` (the event's
   * `ttlSeconds` wins), in seconds. @default 900 (15 minutes)
   */
  CHECKOUT_TTL_SECONDS: int(1)
    .max(7 * 24 * 60 * MINUTE)
    .default(15 * MINUTE),
  /**
   * Per-tenant cart TTLs overriding CART_TTL_SECONDS, as `tenant=seconds,tenant=seconds`.
   * @default (none)
   */
  CART_TTL_BY_TENANT: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const out: Record<string, number> = {};
      for (const part of v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})=(\d+)$/.exec(part);
        if (!m || Number(m[2]) < 1) {
          ctx.addIssue({ code: 'custom', message: `"${part}" is not tenant=seconds` });
          return z.NEVER;
        }
        out[m[1]!] = Number(m[2]);
      }
      return out;
    }),
  /** How long an event id is remembered in Redis for de-duplication. @default 2592000 (30 days) */
  DEDUP_TTL_SECONDS: int(60).default(30 * DAY),
  /** Prefix of every Redis key of the engine (tests use their own). @default inv */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'letters, digits, _ . - (1-32 characters)')
    .default('inv'),
  /**
   * The tenants whose events the worker applies, comma-separated; an event of any other tenant
   * is dead-lettered (`unknown-tenant`) and changes nothing. Empty: any tenant.
   * @default (empty: any tenant)
   */
  TENANTS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const out: string[] = [];
      for (const name of v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)) {
        if (!tenantString.safeParse(name).success) {
          ctx.addIssue({
            code: 'custom',
            message: `"${name}" is not a tenant name (1-64 of A-Z a-z 0-9 _ . -, starting alphanumeric)`,
          });
          return z.NEVER;
        }
        out.push(name);
      }
      return out;
    }),
  /**
   * An event's tenant must equal the AMQP user that published it (the message's `user_id`,
   * which RabbitMQ checks against the connection's user); else it is dead-lettered
   * (`unauthorised-tenant`). @default false
   */
  TENANT_FROM_USER: flag().default(false),
  /** An event without `tenant` is dead-lettered (`invalid`) instead of going to `default`. @default false */
  REQUIRE_TENANT: flag().default(false),
  /** Ledger mirror: most events written to MySQL in one transaction. @default 2000 */
  LEDGER_BATCH_SIZE: int(1).default(2000),
  /** Unacknowledged deliveries in flight per worker (the parallelism window). @default 1000 */
  PREFETCH: int(1).default(1000),
  /**
   * Queue type of the worker's queues (see docs/architecture.md, "Queues, retry tiers, dead
   * letters"). @default quorum
   */
  QUEUE_TYPE: z.enum(['quorum', 'classic']).default('quorum'),
  /** Quorum queues: deliveries of one message before the broker dead-letters it. @default 50 */
  DELIVERY_LIMIT: int(2).default(50),
  /**
   * A MySQL statement that gets no byte back for this long drops its connection (a dead server
   * or network is noticed in seconds, not at TCP keepalive); 0 turns it off. @default 60000
   */
  MYSQL_STATEMENT_TIMEOUT_MS: int(0).default(60_000),
  /**
   * A redelivered message that was being processed at this many crashes of the worker is
   * dead-lettered (reason `crashed-worker`) instead of being applied again. @default 3
   */
  CRASH_REDELIVERY_LIMIT: int(1).default(3),
  /**
   * Most stock keys one event's script may touch (its lines × the locations that could fill
   * them, when routed); more is dead-lettered (`too-much-work`): a script runs alone in Redis.
   * @default 5000
   */
  MAX_EVENT_STOCK_KEYS: int(1).default(5000),
  /**
   * Most events of one tenant sent to Redis in one script call, when several reach the worker
   * together (docs/architecture.md, Lua scripts, "Batched script calls"); 1 sends each event alone.
   * @default 64
   */
  SCRIPT_BATCH_EVENTS: int(1).default(64),
  /** Largest message body accepted; larger ones are dead-lettered. @default 262144 (256 KiB) */
  MAX_MESSAGE_BYTES: int(1024).default(256 * 1024),
  /**
   * Shutdown: the most the whole of it takes (in-flight events, jobs, the ledger flush, the
   * connections), whatever is down; then the process exits 75. @default 15000
   */
  SHUTDOWN_TIMEOUT_MS: int(0).default(15_000),
  /**
   * When the nightly reconciliation runs: a cron pattern (5 fields, or 6 with seconds first),
   * evaluated in UTC; `off` schedules none (a CLI run still works).
   * @default 0 3 * * * (03:00 UTC)
   */
  RECONCILE_CRON: z
    .string()
    .trim()
    .refine((v) => v === 'off' || /^[^\s]+(\s+[^\s]+){4,5}$/.test(v), {
      message: 'must be a cron pattern of 5 or 6 fields, or off',
    })
    .default('0 3 * * *'),
  /**
   * The nightly reconciliation also repairs: stock_levels and Redis back to the ledger, leaked
   * cart holds released (every repair is recorded in reconcile_drifts).
   * @default false
   */
  RECONCILE_REPAIR: z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .default(false),
  /** @default info */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Port of /healthz, /readyz and /metrics; 0 serves none. @default 9464 */
  HTTP_PORT: int(0).max(65_535).default(9464),
  /** Address the HTTP endpoint listens on. @default 0.0.0.0 (every interface, for scrapers) */
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  /** /readyz: unready while an applied event waits longer than this for MySQL. @default 30 */
  READY_MAX_OUTBOX_LAG_SECONDS: int(1).default(30 * SECOND),
  // OpenTelemetry tracing: off unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set (see
  // src/tracing/settings.ts). The names and meanings are the OpenTelemetry SDK's own.
  /** `true` turns tracing off whatever else is set. @default false */
  OTEL_SDK_DISABLED: flag().default(false),
  /** Where spans go: `otlp` (HTTP/JSON), `console` (stdout) or `none`. @default none */
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none']).optional(),
  /** An OTLP/HTTP collector (`/v1/traces` is appended); set alone, it turns tracing on. */
  OTEL_EXPORTER_OTLP_ENDPOINT: url(['http:', 'https:']).optional(),
  /** The OTLP/HTTP traces URL itself (used as it is); set alone, it turns tracing on. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url(['http:', 'https:']).optional(),
  /** The `service.name` of the spans. @default inventory-worker */
  OTEL_SERVICE_NAME: z.string().min(1).max(255).default('inventory-worker'),
  /** @default parentbased_always_on */
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  /** The ratio of the `traceidratio` samplers, 0 to 1. @default 1 */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
});

/** Which URL makes each service's TLS files apply. */
const TLS_URL = [
  { service: 'AMQP', url: 'AMQP_URL', tls: (v: string) => v.startsWith('amqps:'), says: 'amqps:' },
  {
    service: 'REDIS',
    url: 'REDIS_URL',
    tls: (v: string) => v.startsWith('rediss:'),
    says: 'rediss:',
  },
  {
    service: 'MYSQL',
    url: 'MYSQL_URL',
    tls: mysqlUrlWantsTls,
    says: 'a mysql: URL with ?ssl=true',
  },
] as const;

const checked = schema.superRefine((c, ctx) => {
  // a cluster has one database, 0; a REDIS_URL naming another would be silently ignored
  if (c.REDIS_CLUSTER_NODES.length > 0 && !['', '/', '/0'].includes(new URL(c.REDIS_URL).pathname))
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_URL'],
      message: 'names a database; a Redis Cluster has only database 0',
    });
  for (const { service, url, tls, says } of TLS_URL) {
    const ca = `${service}_TLS_CA_FILE` as const;
    const cert = `${service}_TLS_CERT_FILE` as const;
    const key = `${service}_TLS_KEY_FILE` as const;
    for (const v of [ca, cert, key]) {
      if (c[v] !== undefined && !tls(c[url]))
        ctx.addIssue({ code: 'custom', path: [v], message: `is set, but ${url} is not ${says}` });
    }
    if ((c[cert] === undefined) !== (c[key] === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [c[cert] === undefined ? cert : key],
        message: `${cert} and ${key} go together: set both or neither`,
      });
  }
});

export type Config = z.infer<typeof schema> & {
  /** each service's TLS material, read from the *_TLS_*_FILE files at start-up */
  tls: ServiceTls;
};

/** The cart hold lifetime of a tenant, in ms. */
export const cartTtlMs = (config: Config, tenant: string): number =>
  (config.CART_TTL_BY_TENANT[tenant] ?? config.CART_TTL_SECONDS) * 1000;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked = Object.fromEntries(
    Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = checked.safeParse(picked);
  if (!parsed.success) {
    // a value is shown as a URL with its password masked: a URL too malformed to parse may
    // still carry one, and a config error goes to stderr and to the logs
    const lines = parsed.error.issues.map((i) => {
      const v = picked[String(i.path[0])];
      const shown = v === undefined ? '(unset)' : JSON.stringify(truncate(maskUrl(v), 200));
      return `  ${i.path.join('.')}=${shown}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  try {
    return { ...parsed.data, tls: readServiceTls(parsed.data) };
  } catch (e) {
    // checked readable a moment ago; still, a file can vanish or refuse between the two
    throw new ConfigError(`invalid configuration: a TLS file could not be read: ${String(e)}`);
  }
}
