import type { ConfirmChannel, GetMessage } from 'amqplib';
import {
  displayableHeaders,
  headerCount,
  headerString,
  headerValue,
  ownHeaders,
  propertyString,
  republishableHeaders,
} from './headers.js';
import {
  COPY_HEADER_BUDGET,
  DELIVERY_ANNOTATIONS,
  passDeadLetters,
  publishConfirmed,
  type Visit,
} from './dlq-pass.js';
import { amqpUser, carryOrigin } from './tenants.js';
import { connectFirst } from './amqp-nodes.js';
import { amqpSocketOptions, type TlsFiles } from '../tls.js';
import { COMMERCE_EXCHANGE, DLQ } from './topology.js';

/** A dead letter as ops see it. */
export interface DeadLetter {
  /** the event id (AMQP message-id, else the envelope's id, else a position) */
  id: string;
  type: string;
  routingKey: string;
  reason: string;
  failedAt: string | undefined;
  ageSeconds: number | undefined;
  attempts: number;
  headers: Record<string, unknown>;
  body: string;
}

export interface DeadLetterFilter {
  type?: string;
  /** substring of the reason */
  reason?: string;
  id?: string;
}

/** The broker's own record of a dead-lettering (delivery limit): the first `x-death` entry. */
function firstDeath(headers: unknown): { reason?: string; routingKey?: string } | undefined {
  const deaths = headerValue(headers, 'x-death');
  if (!Array.isArray(deaths)) return undefined;
  const first: unknown = deaths[0];
  if (first === null || typeof first !== 'object') return undefined;
  const keys = headerValue(first, 'routing-keys');
  const routingKey: unknown = Array.isArray(keys) ? keys[0] : undefined;
  const reason = headerString(first, 'reason');
  return {
    ...(reason !== undefined ? { reason } : {}),
    ...(typeof routingKey === 'string' ? { routingKey } : {}),
  };
}

function describe(m: GetMessage, position: number): DeadLetter {
  const h = ownHeaders(m.properties.headers);
  const body = m.content.toString('utf8');
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch {
    // not JSON: a malformed message; it is listed by position
  }
  const envelopeId = headerString(envelope, 'id');
  const envelopeType = headerString(envelope, 'type');
  const death = firstDeath(h);
  // Dead-lettered by the broker itself (delivery limit): the key it was published with is in
  // x-death; the delivery's own key is the DLQ's name, which nothing is bound to.
  const routingKey =
    headerString(h, 'x-original-routing-key') ?? death?.routingKey ?? m.fields.routingKey;
  const failedAt = headerString(h, 'x-error-at');
  const failedMs = failedAt === undefined ? NaN : Date.parse(failedAt);
  return {
    id: propertyString(m.properties.messageId) ?? envelopeId ?? `#${position}`,
    type: envelopeType ?? routingKey,
    routingKey,
    reason:
      headerString(h, 'x-error-reason') ??
      (death ? `broker: ${death.reason ?? 'unknown'}` : 'unknown'),
    failedAt,
    ageSeconds: Number.isNaN(failedMs) ? undefined : Math.round((Date.now() - failedMs) / 1000),
    attempts: headerCount(h, 'x-attempts') ?? 0,
    headers: displayableHeaders(h),
    body,
  };
}

const matches = (d: DeadLetter, f: DeadLetterFilter): boolean =>
  (f.type === undefined || d.type === f.type) &&
  (f.reason === undefined || d.reason.includes(f.reason)) &&
  (f.id === undefined || d.id === f.id);

/** The first `limit` dead letters, in order; the DLQ is left as it was. */
export async function listDeadLetters(
  url: string,
  limit: number,
  tls?: TlsFiles,
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  await passDeadLetters(
    url,
    async (m, position) => {
      if (position <= limit) out.push(describe(m, position));
      return 'keep';
    },
    { tls },
  );
  return out;
}

export interface ReplayResult {
  matched: number;
  replayed: number;
  /** left in the DLQ: not matching, or matching but unroutable */
  kept: number;
  /** matched, but no queue is bound to its routing key: kept in the DLQ rather than lost */
  unroutable: number;
}

/**
 * Publishes matching dead letters back onto commerce.events with their original routing key,
 * message id and body (publisher-confirmed), then removes them from the DLQ. The engine's
 * idempotency makes replaying an event twice harmless. A message's origin (see tenants.ts)
 * travels with it, published by this connection's user.
 */
export async function replayDeadLetters(
  url: string,
  filter: DeadLetterFilter,
  options: { dryRun: boolean; limit: number; onProgress?: (done: number) => void },
  tls?: TlsFiles,
): Promise<ReplayResult> {
  const result: ReplayResult = { matched: 0, replayed: 0, kept: 0, unroutable: 0 };
  const ownUser = amqpUser(url);
  // published `mandatory`: the broker returns (before confirming) what no queue would take
  let returned = false;
  const visit = async (m: GetMessage, position: number, ch: ConfirmChannel): Promise<Visit> => {
    if (position > options.limit) return 'keep';
    const d = describe(m, position);
    if (!matches(d, filter)) {
      result.kept++;
      return 'keep';
    }
    result.matched++;
    if (options.dryRun) return 'keep';
    const headers = republishableHeaders(m.properties.headers, COPY_HEADER_BUDGET);
    for (const k of [
      'x-error-reason',
      'x-error-at',
      'x-attempts',
      'x-last-error',
      'x-death',
      ...DELIVERY_ANNOTATIONS,
    ])
      delete headers[k];
    headers['x-replayed-at'] = new Date().toISOString();
    const userId = carryOrigin(m.properties, headers, ownUser);
    returned = false;
    await publishConfirmed(ch, COMMERCE_EXCHANGE, d.routingKey, m.content, {
      persistent: true,
      mandatory: true,
      contentType: propertyString(m.properties.contentType),
      messageId: propertyString(m.properties.messageId),
      ...(userId !== undefined ? { userId } : {}),
      headers,
    });
    if (returned) {
      result.unroutable++;
      result.kept++;
      return 'keep';
    }
    result.replayed++;
    options.onProgress?.(result.replayed);
    return 'taken';
  };
  await passDeadLetters(url, visit, {
    tls,
    prepare: (ch) =>
      ch.on('return', () => {
        returned = true;
      }),
  });
  return result;
}

/** Empties the DLQ; returns how many messages were removed. */
export async function purgeDeadLetters(url: string, tls?: TlsFiles): Promise<number> {
  const conn = await connectFirst(url, amqpSocketOptions(tls));
  try {
    const ch = await conn.createChannel();
    const { messageCount } = await ch.purgeQueue(DLQ);
    await ch.close();
    return messageCount;
  } finally {
    await conn.close();
  }
}
