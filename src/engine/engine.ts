import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { PermanentError } from '../errors/permanent-error.js';
import { TransientError } from '../errors/transient-error.js';
import { parseEvent } from '../domain/schemas.js';
import type { Command, EventMeta, OutboxPayload } from '../domain/types.js';
import { TenantKeys } from './keys.js';
import { holdPairs } from './hold-hash.js';
import { NetworkCache } from './network.js';
import { parsePayload } from './payload.js';
import { plan as planOf, type Plan } from './plans.js';
import { defineScripts, type ScriptSpec } from './lua-scripts.js';
import { NOT_RUN, ScriptBatcher } from './script-batch.js';

/** Script reply codes (see src/lua/includes/base.lua). */
export enum ReplyCode {
  Applied = 1,
  Duplicate = 0,
  NotReady = -1,
  Retry = -2,
  NotYet = -3,
  /** the tenant's locations or bindings changed since the plan: plan again */
  StaleNetwork = -4,
  /** a reservation would be refused while a cart is past its expiry: expire those first */
  ExpireFirst = -5,
  /** on a cluster, the tenant's writes were made on another node: reload it from MySQL */
  NodeChanged = -6,
  /** (from the batcher, not Redis) the event's batch stopped before it: send it again */
  NotRun = NOT_RUN,
}

/** An open cart past its expiry, as the tenant's cart expiry set has it. */
export interface DueCart {
  cartId: string;
  expiresAt: number;
}

/** How many due carts one EXPIRE_FIRST reply hands back (the rest wait for the next one). */
export const DUE_CARTS_PER_ROUND = 100;

export type ApplyResult =
  | { status: 'applied'; entryId: string; payload: OutboxPayload }
  /** Applied before; `pending` is its payload while still waiting in the outbox. */
  | { status: 'duplicate'; entryId: string; pending?: OutboxPayload }
  /** A precondition (e.g. the transfer's shipment) has not arrived yet; nothing changed. */
  | { status: 'not-yet'; reason: string };

/**
 * Only with `expireDue`: the event would be refused for want of stock while these carts are
 * past their expiry; nothing changed. Expire them, then apply the event again.
 */
export interface ExpireFirst {
  status: 'expire-first';
  due: DueCart[];
}

export interface ApplyOptions {
  /**
   * Ask for `expire-first` instead of a refusal for want of stock while a cart hold is past
   * its expiry (the caller must then expire the due carts). @default false
   */
  expireDue?: boolean;
}

export interface EngineOptions {
  prefix: string;
  dedupTtlSeconds: number;
  /** Called when a script finds the tenant missing from Redis: load it, then the call retries. */
  ensureTenant: (tenant: string) => Promise<void>;
  /**
   * Redis Cluster: called when a script finds the tenant's writes were made on another node
   * (`node`, a failover or a moved slot): reload the tenant from MySQL unless done already,
   * then the call retries. Unset, the event fails as transient.
   */
  replaceTenant?: (tenant: string, node: string) => Promise<void>;
  /** @default Date.now */
  now?: () => number;
  /**
   * Most stock keys one event may touch in its script call (lines × candidate locations when
   * routed): a script runs alone in Redis, so a bigger one would stall every tenant. An event
   * over it is invalid (`too-much-work`). @default 5000
   */
  maxStockKeys?: number;
  /**
   * Most events of one tenant sent to Redis in one script call (see script-batch.ts); 1 sends
   * each event alone. @default 64
   */
  batchEvents?: number;
}

/** See EngineOptions.batchEvents. */
export const DEFAULT_BATCH_EVENTS = 64;

/** See EngineOptions.maxStockKeys. */
export const DEFAULT_MAX_STOCK_KEYS = 5000;

const MAX_ATTEMPTS = 20;
/** Sent again after its batch stopped before it: bounds that loop (each batch runs its first). */
const MAX_NOT_RUN = 1000;

/**
 * Runs commands through the Lua scripts. Ops that release by reference first read which
 * lines the hold has (to pass every stock key in KEYS); the script checks the hold still has
 * exactly those lines and asks for a re-plan (RETRY) if it changed in between.
 */
export class Engine {
  private readonly specs: Map<string, ScriptSpec>;
  private readonly now: () => number;
  private readonly network: NetworkCache;
  /** on a Redis Cluster, scripts check which node made the tenant's writes (ARGV `cl`) */
  private readonly cluster: boolean;
  private readonly batcher: ScriptBatcher | undefined;

  /**
   * Batch calls sent to Redis, the events they carried, and those of them not run (their
   * batch stopped before them: sent again). All 0 when batching is off.
   */
  get batches(): { calls: number; events: number; notRun: number } {
    return this.batcher?.sent ?? { calls: 0, events: 0, notRun: 0 };
  }

  /** Tenants whose network is cached (bounded: see NetworkCache). */
  get cachedNetworks(): number {
    return this.network.size;
  }

  constructor(
    private readonly redis: RedisClient,
    private readonly options: EngineOptions,
  ) {
    this.specs = defineScripts(redis);
    this.cluster = redis instanceof Cluster;
    this.now = options.now ?? Date.now;
    this.network = new NetworkCache(redis, options.prefix, options.ensureTenant);
    const batchEvents = options.batchEvents ?? DEFAULT_BATCH_EVENTS;
    this.batcher = batchEvents > 1 ? new ScriptBatcher(redis, this.specs, batchEvents) : undefined;
  }

  keys(tenant: string): TenantKeys {
    return new TenantKeys(this.options.prefix, tenant);
  }

  /** Validates and applies one event's command. Throws PermanentError on invalid input. */
  async apply(meta: EventMeta, command: Command): Promise<ApplyResult>;
  async apply(
    meta: EventMeta,
    command: Command,
    options: ApplyOptions,
  ): Promise<ApplyResult | ExpireFirst>;
  async apply(
    meta: EventMeta,
    command: Command,
    options?: ApplyOptions,
  ): Promise<ApplyResult | ExpireFirst> {
    const valid = parseEvent(meta, command);
    return this.applyValid(valid.meta, valid.command, options ?? {});
  }

  /** Applies a command already validated by the caller. */
  async applyValid(meta: EventMeta, command: Command): Promise<ApplyResult>;
  async applyValid(
    meta: EventMeta,
    command: Command,
    options: ApplyOptions,
  ): Promise<ApplyResult | ExpireFirst>;
  async applyValid(
    meta: EventMeta,
    command: Command,
    options?: ApplyOptions,
  ): Promise<ApplyResult | ExpireFirst> {
    const k = this.keys(meta.tenant);
    const due = options?.expireDue === true;
    let notRun = 0;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // No await for what is known already (each would be microtasks for every event): the
      // events of a delivery window whose plans read nothing reach the batch in delivery order;
      // one whose plan reads Redis first (the pairs a hold has) follows them.
      const snap = this.network.now(meta.tenant) ?? (await this.network.get(meta.tenant));
      let plan = planOf(command, {
        keys: k,
        net: snap.net,
        holdPairs: (key) => this.holdPairs(key),
      });
      if (plan instanceof Promise) plan = await plan;
      const max = this.options.maxStockKeys ?? DEFAULT_MAX_STOCK_KEYS;
      if (plan.pairs.length > max)
        throw new PermanentError(
          `the event would touch ${plan.pairs.length} stock keys (its lines × the locations that could fill them); the limit is ${max}`,
          'too-much-work',
        );
      const now = this.now();
      const reply = await this.call(k, meta, plan, snap.token, now, due);
      const code = reply[0] as ReplyCode;
      switch (code) {
        case ReplyCode.Applied:
          return {
            status: 'applied',
            entryId: String(reply[1]),
            payload: parsePayload(String(reply[2])),
          };
        case ReplyCode.Duplicate:
          return {
            status: 'duplicate',
            entryId: String(reply[1]),
            ...(reply[2] ? { pending: parsePayload(String(reply[2])) } : {}),
          };
        case ReplyCode.NotYet:
          return { status: 'not-yet', reason: String(reply[1]) };
        case ReplyCode.NotReady:
          await this.options.ensureTenant(meta.tenant);
          break;
        case ReplyCode.Retry:
          break;
        case ReplyCode.NotRun:
          // not an attempt: its batch stopped at another event
          if (++notRun < MAX_NOT_RUN) attempt--;
          break;
        case ReplyCode.StaleNetwork:
          this.network.invalidate(meta.tenant, snap.token);
          break;
        case ReplyCode.ExpireFirst:
          return { status: 'expire-first', due: await this.dueCarts(k, now) };
        case ReplyCode.NodeChanged:
          if (!this.options.replaceTenant)
            throw new TransientError(
              `tenant ${meta.tenant}: written on another cluster node; nothing reloads it here`,
              'tenant-node-changed',
            );
          await this.options.replaceTenant(meta.tenant, String(reply[1]));
          break;
        default:
          throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
      }
    }
    throw new TransientError(
      `event ${meta.id}: gave up after ${MAX_ATTEMPTS} attempts (tenant not loadable or hold churning)`,
      'engine-retries-exhausted',
    );
  }

  /** The tenant's open carts whose expiry is `now` or earlier, the oldest first. */
  async dueCarts(k: TenantKeys, now: number): Promise<DueCart[]> {
    const flat = await this.redis.zrangebyscore(
      k.cartExpiries,
      '-inf',
      now,
      'WITHSCORES',
      'LIMIT',
      0,
      DUE_CARTS_PER_ROUND,
    );
    const due: DueCart[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      due.push({ cartId: flat[i]!, expiresAt: Number(flat[i + 1]) });
    return due;
  }

  private call(
    k: TenantKeys,
    meta: EventMeta,
    plan: Plan,
    nv: string,
    now: number,
    due: boolean,
  ): Promise<unknown[]> {
    const spec = this.specs.get(plan.script);
    if (!spec) throw new Error(`no Lua script named ${plan.script}`);
    const keys = [
      k.meta,
      k.marker(meta.source, meta.id),
      k.outbox,
      ...plan.keys,
      ...plan.pairs.map((p) => k.stock(p)),
    ];
    const fixed = keys.length - plan.pairs.length;
    if (spec.waitQueues) for (const p of plan.pairs) keys.push(k.wait(p));
    if (plan.tail) for (const key of plan.tail) keys.push(key);
    if (fixed !== spec.fixedKeys) {
      throw new Error(`${plan.script}: planned ${fixed} fixed keys`);
    }
    // Built field by field: JSON.stringify takes a much slower path for an object made with
    // spreads (about 10 µs against 1 µs here), and this runs for every event.
    const fields: Record<string, unknown> = {
      tenant: meta.tenant,
      source: meta.source,
      id: meta.id,
      type: meta.type,
      occurredAt: meta.occurredAt,
      now,
      dedupTtl: this.options.dedupTtlSeconds,
      nv,
      pairs: plan.pairs,
    };
    if (meta.traceId !== undefined) fields.traceId = meta.traceId;
    for (const key of Object.keys(plan.args)) fields[key] = plan.args[key];
    if (due) fields.due = true;
    if (this.cluster) fields.cl = 1;
    const argv = JSON.stringify(fields);
    const run = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown[]>>)[
      spec.command
    ]!;
    const alone = () =>
      spec.variadic
        ? run.call(this.redis, keys.length, ...keys, argv)
        : run.call(this.redis, ...keys, argv);
    return this.batcher ? this.batcher.call(meta.tenant, spec.name, keys, argv, alone) : alone();
  }

  /** Pairs a hold currently has lines for (fields h:, o:, s:, b:, p: of its hash). */
  private async holdPairs(key: string): Promise<string[]> {
    const fields = await this.redis.hkeys(key);
    return holdPairs(fields);
  }
}
