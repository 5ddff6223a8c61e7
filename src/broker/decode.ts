import type { ConsumeMessage } from 'amqplib';
import type { Consumer } from '../../consumers/consumer.js';
import { consumers } from '../../consumers/index.js';
import { cloudEventSchema, describeIssues } from '../domain/schemas.js';
import { DEFAULT_TENANT, type Command, type EventMeta } from '../domain/types.js';
import { PermanentError } from '../errors/permanent-error.js';
import type { DeadLetterReason } from '../errors/reasons.js';
import { propertyString } from './headers.js';
import { authoriseTenant, type TenantRules } from './tenants.js';

const CONTENT_TYPES = new Set(['application/cloudevents+json', 'application/json']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface DecodedEvent {
  meta: EventMeta;
  consumer: Consumer;
  command: Command;
  orderingKeys: string[];
}

export interface DecodeOptions {
  maxBytes: number;
  cartTtlMs: (tenant: string) => number;
  /** who may act for which tenant; absent: any event for any tenant, `default` when it names none */
  tenants?: TenantRules;
}

const fail = (reason: DeadLetterReason, message: string): never => {
  throw new PermanentError(message, reason);
};

/**
 * Turns a delivery into a validated command, or throws PermanentError with a reason code
 * (malformed, invalid, unknown-type, routing-mismatch, too-large, unknown-tenant,
 * unauthorised-tenant) and a message a person can act on.
 */
export function decode(msg: ConsumeMessage, options: DecodeOptions): DecodedEvent {
  const { content, properties, fields } = msg;
  if (content.length > options.maxBytes) {
    fail('too-large', `body is ${content.length} bytes; the limit is ${options.maxBytes}`);
  }
  const contentType = propertyString(properties.contentType);
  if (contentType && !CONTENT_TYPES.has(contentType.split(';')[0]!.trim().toLowerCase())) {
    fail(
      'malformed',
      `content-type ${contentType} is not application/cloudevents+json or application/json`,
    );
  }
  let text = '';
  try {
    text = utf8.decode(content);
  } catch {
    fail('malformed', 'body is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail('malformed', `body is not JSON: ${(e as Error).message}`);
  }
  const env = cloudEventSchema.safeParse(json);
  if (!env.success) fail('invalid', `invalid CloudEvents envelope: ${describeIssues(env.error)}`);
  const e = env.data!;
  if (fields.routingKey !== e.type && fields.exchange !== '') {
    fail('routing-mismatch', `routing key "${fields.routingKey}" differs from type "${e.type}"`);
  }
  const messageId = propertyString(properties.messageId);
  if (messageId !== undefined && messageId !== e.id) {
    fail('invalid', `AMQP message-id "${messageId}" differs from event id "${e.id}"`);
  }
  // before anything of the data is looked at: an unauthorised event gets no further
  const tenant = options.tenants
    ? authoriseTenant(e.tenant, properties, options.tenants)
    : (e.tenant ?? DEFAULT_TENANT);
  const consumer = consumers.get(e.type);
  if (!consumer) fail('unknown-type', `unknown event type "${e.type}"`);
  const data = consumer!.data.safeParse(e.data);
  if (!data.success) fail('invalid', `invalid ${e.type} data: ${describeIssues(data.error)}`);
  const meta: EventMeta = {
    tenant,
    source: e.source,
    id: e.id,
    type: e.type,
    occurredAt: e.time ?? new Date().toISOString(),
  };
  return {
    meta,
    consumer: consumer!,
    command: consumer!.command(data.data, { tenant, cartTtlMs: options.cartTtlMs(tenant) }),
    orderingKeys: consumer!.orderingKeys(data.data).map((k) => `${tenant}\x1f${k}`),
  };
}
