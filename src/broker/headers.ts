/**
 * Reading what a publisher put on the wire. Any client can send a header of any AMQP field
 * type under any name: amqplib decodes tables to objects, arrays to arrays, byte arrays to
 * Buffers, decimals and timestamps to `{ '!': kind, value }`, void to null, and assigns each
 * name on a plain object, so a header named `__proto__` whose value is a table becomes the
 * object's prototype. A value is therefore used only when it is an own entry of the type the
 * reader expects; anything else is treated as absent. Nothing here throws.
 */

/** The value of the own entry `name` of a decoded header table, else undefined. */
export function headerValue(headers: unknown, name: string): unknown {
  if (headers === null || typeof headers !== 'object') return undefined;
  return Object.hasOwn(headers, name) ? (headers as Record<string, unknown>)[name] : undefined;
}

/** A header that must be a string; any other type is absent. */
export function headerString(headers: unknown, name: string): string | undefined {
  const v = headerValue(headers, name);
  return typeof v === 'string' ? v : undefined;
}

/** A header that must be a count (a non-negative safe integer); any other value is absent. */
export function headerCount(headers: unknown, name: string): number | undefined {
  const v = headerValue(headers, name);
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/**
 * A message property that must be a string. amqplib only decodes the protocol's short strings
 * into these, but the worker's own types say `any`: this keeps the reading honest.
 */
export function propertyString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The own entries of a decoded header table, as a plain object (empty when there are none). */
export function ownHeaders(headers: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return out;
  for (const name of Object.keys(headers)) {
    // defineProperty, not assignment: an own `__proto__` entry stays an entry
    Object.defineProperty(out, name, {
      value: (headers as Record<string, unknown>)[name],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** The parts of a delivery the readers below look at. */
interface Delivery {
  fields: { exchange: string; routingKey: string };
  properties: { headers?: unknown };
}

/**
 * The routing key the message was first published with. A delivery from an exchange carries
 * it in its own routing key; one that came back from a retry queue (through the default
 * exchange) carries it in `x-original-routing-key`, set by the worker when it went there. A
 * publisher's own `x-original-routing-key` on a first delivery is not believed.
 */
export function originalRoutingKey(msg: Delivery): string {
  if (msg.fields.exchange !== '') return msg.fields.routingKey;
  return headerString(msg.properties.headers, 'x-original-routing-key') ?? msg.fields.routingKey;
}
