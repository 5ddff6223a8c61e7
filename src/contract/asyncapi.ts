import {
  ANNOUNCEMENT_TYPES,
  dataschemaOf,
  RECONCILE_SOURCE,
  WORKER_SOURCE,
  type AnnouncementType,
} from '../domain/announcement-schemas.js';
import {
  COMMERCE_EXCHANGE,
  DLQ,
  INVENTORY_EXCHANGE,
  MAIN_QUEUE,
  RETRY_DELAYS_MS,
  retryQueueName,
} from '../broker/topology.js';
import { DEAD_LETTER_REASONS } from '../errors/reasons.js';
import { CONSUMED_EXAMPLES, PUBLISHED_EXAMPLES } from './examples.js';
import { CONSUMED_TYPES, messageSchema } from './json-schemas.js';
import { CONSUMED_SUMMARY, PUBLISHED_SUMMARY } from './summaries.js';

/**
 * docs/asyncapi.yaml, built from the code's own lists (consumers, announcement types, the
 * topology's names, the dead-letter reasons), so it names every event the worker knows.
 * Payloads refer to the generated JSON Schemas in docs/schemas/.
 */

type Doc = Record<string, unknown>;

export const ASYNCAPI_FILE = 'docs/asyncapi.yaml';

/** `$ref` from docs/asyncapi.yaml to a schema file under docs/schemas/. */
const fileRef = (file: string): string => `./schemas/${file}`;
const ref = (pointer: string): Doc => ({ $ref: pointer });
const AMQP = '0.3.0';
const VHOST = '/';
/** A channel key per message: component names may hold dots. */
const msgRefs = (types: readonly string[]): Doc =>
  Object.fromEntries(types.map((t) => [t, ref(`#/components/messages/${t}`)]));

const exchange = (name: string, description: string, types: readonly string[]): Doc => ({
  address: '{type}',
  title: `${name} (topic exchange)`,
  description,
  parameters: {
    type: {
      description: 'The routing key: always the event `type`.',
      enum: [...types],
    },
  },
  messages: msgRefs(types),
  bindings: {
    amqp: {
      is: 'routingKey',
      exchange: { name, type: 'topic', durable: true, autoDelete: false, vhost: VHOST },
      bindingVersion: AMQP,
    },
  },
});

const queue = (name: string, description: string, messages: Doc): Doc => ({
  address: name,
  title: `${name} (queue)`,
  description,
  messages,
  bindings: {
    amqp: {
      is: 'queue',
      queue: { name, durable: true, exclusive: false, autoDelete: false, vhost: VHOST },
      bindingVersion: AMQP,
    },
  },
});

const EXAMPLE_TIME = '2026-11-23T10:15:00Z';

function consumedMessage(type: string): Doc {
  return {
    name: type,
    title: type,
    summary: CONSUMED_SUMMARY[type],
    contentType: 'application/cloudevents+json',
    payload: messageSchema('consumed', type, fileRef),
    bindings: { amqp: { messageType: type, bindingVersion: AMQP } },
    examples: [
      {
        name: type,
        payload: {
          specversion: '1.0',
          id: `${type.replace('.', '-')}-1`,
          source: '/shop/checkout',
          type,
          time: EXAMPLE_TIME,
          tenant: 'acme',
          data: CONSUMED_EXAMPLES[type],
        },
      },
    ],
  };
}

function publishedMessage(type: AnnouncementType): Doc {
  const data = PUBLISHED_EXAMPLES[type];
  const source = type === 'inventory.drift-detected' ? RECONCILE_SOURCE : WORKER_SOURCE;
  return {
    name: type,
    title: type,
    summary: PUBLISHED_SUMMARY[type],
    contentType: 'application/cloudevents+json',
    payload: messageSchema('published', type, fileRef),
    bindings: { amqp: { messageType: type, bindingVersion: AMQP } },
    examples: [
      {
        name: type,
        payload: {
          specversion: '1.0',
          id:
            type === 'inventory.drift-detected'
              ? `${RECONCILE_SOURCE}#run-12#acme`
              : `${data.causationSource}#${data.causationId}#0`,
          source,
          type,
          time: EXAMPLE_TIME,
          tenant: 'acme',
          datacontenttype: 'application/json',
          dataschema: dataschemaOf(type),
          data,
        },
      },
    ],
  };
}

const reasonCodes = Object.keys(DEAD_LETTER_REASONS);

const deadLetter: Doc = {
  name: 'dead-letter',
  title: 'Dead letter',
  summary: 'A message the worker could not process, unchanged, with headers saying why.',
  description:
    "The body and properties are the original message's. `x-error-reason` starts with a " +
    'reason code (the word before the first `:`), then what a person can act on. A message ' +
    "RabbitMQ itself dead-lettered (its delivery limit) carries RabbitMQ's `x-death` instead.",
  headers: {
    type: 'object',
    properties: {
      'x-error-reason': {
        type: 'string',
        maxLength: 1000,
        pattern: `^(${reasonCodes.join('|')}): `,
        description: Object.entries(DEAD_LETTER_REASONS)
          .map(([code, why]) => `\`${code}\`: ${why}.`)
          .join('\n'),
      },
      'x-error-at': { type: 'string', format: 'date-time', description: 'When (ISO 8601).' },
      'x-attempts': { type: 'integer', minimum: 1, description: 'How many attempts were made.' },
      'x-original-routing-key': { type: 'string', description: 'The routing key it had.' },
      'x-original-exchange': { type: 'string', description: 'The exchange it was published to.' },
      'x-original-user-id': {
        type: 'string',
        description: 'With TENANT_FROM_USER: the RabbitMQ user that published it.',
      },
      'x-death': { type: 'array', description: "RabbitMQ's own, when RabbitMQ dead-lettered it." },
      traceparent: {
        type: 'string',
        description: "The message's W3C trace context, when it had a valid one (tracing).",
      },
      tracestate: { type: 'string', description: 'With traceparent, when it had one.' },
    },
  },
  payload: { description: 'The original body, byte for byte (it may not be JSON at all).' },
  examples: [
    {
      name: 'invalid',
      headers: {
        'x-error-reason': 'invalid: invalid cart.added data: quantity: must be positive',
        'x-error-at': '2026-11-23T10:15:01.204Z',
        'x-attempts': 1,
        'x-original-routing-key': 'cart.added',
        'x-original-exchange': COMMERCE_EXCHANGE,
      },
      payload: {
        specversion: '1.0',
        id: 'add-9',
        source: '/shop/checkout',
        type: 'cart.added',
        tenant: 'acme',
        data: { cartId: 'cart-42', sku: 'SNK-AIR-1-9-BLK', quantity: 0 },
      },
    },
  ],
};

const retryChannel = (delayMs: number): [string, Doc] => [
  `retry${delayMs / 1000}s`,
  queue(
    retryQueueName(delayMs),
    `Back-off tier: a delivery whose failure may pass waits here ${delayMs / 1000} s ` +
      `(\`x-message-ttl\` ${delayMs}), then RabbitMQ dead-letters it back to ${MAIN_QUEUE}. ` +
      'The worker publishes to it through the default exchange, headers `x-attempts`, ' +
      '`x-original-routing-key` and `x-original-exchange` added.',
    msgRefs(CONSUMED_TYPES),
  ),
];

export function asyncapiDocument(version: string): Doc {
  const retry = RETRY_DELAYS_MS.map(retryChannel);
  const consumedRefs = (channel: string) =>
    CONSUMED_TYPES.map((t) => ref(`#/channels/${channel}/messages/${t}`));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'inventory-reservation-worker',
      version,
      description:
        'Consumes commerce events (CloudEvents 1.0, structured JSON) from the topic exchange ' +
        `${COMMERCE_EXCHANGE}, moves stock atomically in Redis, mirrors every movement to a ` +
        `MySQL ledger, and publishes what happened to ${INVENTORY_EXCHANGE}. The whole ` +
        'contract, rules included, is docs/events.md; the JSON Schemas are in docs/schemas/ ' +
        '(generated by `npm run schemas`, as this file is).',
    },
    defaultContentType: 'application/cloudevents+json',
    servers: {
      rabbitmq: {
        host: 'localhost:5672',
        protocol: 'amqp',
        protocolVersion: '0-9-1',
        description:
          'Your RabbitMQ (AMQP_URL). Quorum queues by default (QUEUE_TYPE), durable exchanges.',
      },
    },
    channels: {
      commerceEvents: exchange(
        COMMERCE_EXCHANGE,
        'Where platforms publish, routing key = `type`, AMQP `message-id` = `id`, content type ' +
          '`application/cloudevents+json` (or `application/json`).',
        CONSUMED_TYPES,
      ),
      commerceEventsQueue: queue(
        MAIN_QUEUE,
        `The worker's queue, bound to ${COMMERCE_EXCHANGE} with one binding per consumed ` +
          `type. Quorum (\`x-queue-type\`), \`x-delivery-limit\` DELIVERY_LIMIT, dead-lettered ` +
          `to ${DLQ} by RabbitMQ past that limit.`,
        msgRefs(CONSUMED_TYPES),
      ),
      ...Object.fromEntries(retry),
      inventoryEvents: exchange(
        INVENTORY_EXCHANGE,
        'What the worker publishes: routing key = `type`, AMQP `message-id` = `id`, ' +
          'publisher-confirmed, at least once (consumers de-duplicate by `id`).',
        ANNOUNCEMENT_TYPES,
      ),
      deadLetters: queue(
        DLQ,
        'Messages that cannot be processed, unchanged, with headers saying why. Replay with ' +
          '`inventory dlq replay`.',
        { deadLetter: ref('#/components/messages/deadLetter') },
      ),
    },
    operations: {
      consume: {
        action: 'receive',
        title: 'Consume commerce events',
        summary: `Every consumed type, from ${MAIN_QUEUE}; acknowledged once committed.`,
        channel: ref('#/channels/commerceEventsQueue'),
        messages: consumedRefs('commerceEventsQueue'),
        bindings: { amqp: { ack: true, bindingVersion: AMQP } },
      },
      ...Object.fromEntries(
        retry.map(([key]) => [
          `${key}Retry`,
          {
            action: 'send',
            title: `Retry later (${key.slice(5)})`,
            summary: 'A delivery whose failure may pass, for another attempt.',
            channel: ref(`#/channels/${key}`),
            messages: consumedRefs(key),
          },
        ]),
      ),
      announce: {
        action: 'send',
        title: 'Announce what happened',
        summary: 'Published once the event is committed to the ledger, before the ack.',
        channel: ref('#/channels/inventoryEvents'),
        messages: ANNOUNCEMENT_TYPES.map((t) => ref(`#/channels/inventoryEvents/messages/${t}`)),
        bindings: { amqp: { deliveryMode: 2, bindingVersion: AMQP } },
      },
      deadLetter: {
        action: 'send',
        title: 'Dead-letter',
        summary: 'A message that cannot be processed, with the reason.',
        channel: ref('#/channels/deadLetters'),
        messages: [ref('#/channels/deadLetters/messages/deadLetter')],
      },
    },
    components: {
      messages: {
        ...Object.fromEntries(CONSUMED_TYPES.map((t) => [t, consumedMessage(t)])),
        ...Object.fromEntries(ANNOUNCEMENT_TYPES.map((t) => [t, publishedMessage(t)])),
        deadLetter,
      },
    },
  };
}
