/**
 * Which publisher may move which tenant's stock. Naming a tenant in an event proves nothing: any
 * client that can publish can write any name. What a publisher cannot fake is the AMQP
 * `user_id` property: RabbitMQ refuses (PRECONDITION_FAILED) a message whose `user_id` is not
 * the user its connection authenticated as. So with TENANT_FROM_USER an event's tenant must be
 * the user that published it.
 *
 * Messages the worker publishes again (retry tiers, the DLQ) and the operator's replays are
 * published by the worker's own user, so the first publisher's user (the message's origin)
 * travels in the header `x-original-user-id`. That header is believed only on a message whose
 * `user_id` is the worker's own user, which only the worker and the operator (who use the same
 * credentials) can publish; on any other message it is ignored. The worker's user itself may act
 * for every tenant: whoever holds its credentials can already read, replay and purge everything.
 */
import type { Config } from '../config.js';
import { DEFAULT_TENANT } from '../domain/types.js';
import { PermanentError } from '../errors/permanent-error.js';
import { headerString, propertyString } from './headers.js';
import { amqpNodes } from '../amqp-address.js';

/** The header carrying the user that first published a message (see above). */
export const ORIGIN_HEADER = 'x-original-user-id';

export interface TenantRules {
  /** the tenants whose events are applied; undefined: any */
  allowed: ReadonlySet<string> | undefined;
  /** the tenant must be the AMQP user that published the event */
  fromUser: boolean;
  /** an event must name its tenant (none does not mean `default`) */
  required: boolean;
  /** the AMQP user the worker and the operator's CLI connect as */
  ownUser: string;
}

export function tenantRules(
  config: Pick<Config, 'TENANTS' | 'TENANT_FROM_USER' | 'REQUIRE_TENANT' | 'AMQP_URL'>,
): TenantRules {
  return {
    allowed: config.TENANTS.length ? new Set(config.TENANTS) : undefined,
    fromUser: config.TENANT_FROM_USER,
    required: config.REQUIRE_TENANT,
    ownUser: amqpUser(config.AMQP_URL),
  };
}

/** Whether TENANTS lets events of `tenant` through (the operator's own events included). */
export const tenantListed = (config: Pick<Config, 'TENANTS'>, tenant: string): boolean =>
  config.TENANTS.length === 0 || config.TENANTS.includes(tenant);

/**
 * The user a connection to `url` authenticates as, read from the URL exactly as amqplib reads
 * it (`unescape`, and guest/guest when the URL names neither user nor password): a `user_id`
 * that differs by one byte makes the broker close the publishing channel.
 */
export function amqpUser(url: string): string {
  // every node of a cluster is reached as one user (amqpNodes checks it)
  return amqpNodes(url)[0]!.username;
}

/** Who first published a message, as far as the broker vouches for it. */
export type Origin =
  | { kind: 'user'; user: string }
  /** the worker's own user, acting for itself: the operator's CLI */
  | { kind: 'operator' }
  /** nobody the broker vouches for: no `user_id` */
  | { kind: 'none' };

interface Properties {
  userId?: unknown;
  headers?: unknown;
}

export function originOf(properties: Properties, ownUser: string): Origin {
  const userId = propertyString(properties.userId);
  if (userId === undefined) return { kind: 'none' };
  if (userId !== ownUser) return { kind: 'user', user: userId };
  const carried = headerString(properties.headers, ORIGIN_HEADER);
  if (carried === undefined) return { kind: 'operator' };
  return carried === '' ? { kind: 'none' } : { kind: 'user', user: carried };
}

/**
 * The tenant an event may act for: the one it names (or `default`) if the rules allow it, else
 * a PermanentError (`invalid`, `unknown-tenant` or `unauthorised-tenant`) naming what is wrong.
 */
export function authoriseTenant(
  named: string | undefined,
  properties: Properties,
  rules: TenantRules,
): string {
  if (named === undefined && rules.required)
    throw new PermanentError('the event names no tenant (REQUIRE_TENANT is set)', 'invalid');
  const tenant = named ?? DEFAULT_TENANT;
  const which =
    named === undefined ? `tenant "${tenant}" (the event names none)` : `tenant "${tenant}"`;
  if (rules.allowed && !rules.allowed.has(tenant))
    throw new PermanentError(`${which} is not in TENANTS`, 'unknown-tenant');
  if (!rules.fromUser) return tenant;
  const origin = originOf(properties, rules.ownUser);
  if (origin.kind === 'operator' || (origin.kind === 'user' && origin.user === tenant))
    return tenant;
  throw new PermanentError(
    origin.kind === 'none'
      ? `${which} needs a publisher's AMQP user_id (TENANT_FROM_USER is set); the message has none`
      : `${which} was published by AMQP user ${JSON.stringify(origin.user)} (TENANT_FROM_USER is set)`,
    'unauthorised-tenant',
  );
}

/**
 * Prepares a message's headers for being published again by `ownUser` and returns the `user_id`
 * to publish it with: the origin goes into `x-original-user-id` (a publisher's own value of it
 * is dropped), so it is believed again when the message comes back. A message with no origin
 * gets no `user_id`, so it cannot pass for the operator's.
 */
export function carryOrigin(
  properties: Properties,
  headers: Record<string, unknown>,
  ownUser: string,
): string | undefined {
  const origin = originOf(properties, ownUser);
  delete headers[ORIGIN_HEADER];
  if (origin.kind === 'none') return undefined;
  if (origin.kind === 'user') headers[ORIGIN_HEADER] = origin.user;
  return ownUser;
}
