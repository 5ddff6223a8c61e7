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

/** Deeper header values are replaced by a note when a message is published again. */
const MAX_REPUBLISH_DEPTH = 32;

/** A header value in a form amqplib can encode, and its encoded size in bytes. */
interface Encodable {
  value: unknown;
  bytes: number;
}

const note = (text: string): Encodable => ({ value: text, bytes: 5 + Buffer.byteLength(text) });

/** amqplib's encoding size of a number it is given as is (it picks the smallest integer type). */
function numberBytes(n: number): number {
  if (n >= -128 && n < 128) return 2;
  if (n >= -0x8000 && n < 0x8000) return 3;
  if (n >= -0x80000000 && n < 0x80000000) return 5;
  return 9;
}

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * A decoded header value made safe to encode again. amqplib's encoder throws on values its
 * decoder produces: a table with an own `!` entry (read as a type trapdoor), an integer beyond
 * 64 bits of precision, NaN; and it recurses, so deep nesting overflows the stack. Each of those
 * becomes a double or a short note; everything else keeps its type.
 */
function encodable(value: unknown, depth: number): Encodable | undefined {
  if (typeof value === 'string') return { value, bytes: 5 + Buffer.byteLength(value) };
  if (typeof value === 'boolean') return { value, bytes: 2 };
  if (value === null) return { value, bytes: 1 };
  if (typeof value === 'number')
    return Number.isSafeInteger(value)
      ? { value, bytes: numberBytes(value) }
      : { value: { '!': 'double', value }, bytes: 9 };
  if (Buffer.isBuffer(value)) return { value, bytes: 5 + value.length };
  if (typeof value !== 'object') return undefined;
  if (depth >= MAX_REPUBLISH_DEPTH) return note(`[nested deeper than ${MAX_REPUBLISH_DEPTH}]`);
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    let bytes = 5;
    for (const item of value) {
      const e = encodable(item, depth + 1);
      if (!e) continue;
      items.push(e.value);
      bytes += e.bytes;
    }
    return { value: items, bytes };
  }
  if (Object.hasOwn(value, '!')) {
    const tag = headerValue(value, '!');
    const inner = headerValue(value, 'value');
    if (tag === 'timestamp' && isInt(inner, 0, Number.MAX_SAFE_INTEGER))
      return { value: { '!': 'timestamp', value: inner }, bytes: 9 };
    const places = headerValue(inner, 'places');
    const digits = headerValue(inner, 'digits');
    if (tag === 'decimal' && isInt(places, 0, 255) && isInt(digits, 0, 0xffffffff))
      return { value: { '!': 'decimal', value: { places, digits } }, bytes: 6 };
    return note('[a table with a "!" entry, which this client cannot encode]');
  }
  const table = encodableTable(value, depth + 1);
  return { value: table.value, bytes: 1 + table.bytes };
}

/** A table's own entries made encodable; `bytes` counts the table's length prefix too. */
function encodableTable(table: object, depth: number): Encodable & { value: object } {
  const out: Record<string, unknown> = {};
  let bytes = 4;
  for (const name of Object.keys(table)) {
    const keyBytes = Buffer.byteLength(name);
    const e = encodable((table as Record<string, unknown>)[name], depth);
    if (!e || keyBytes > 255) continue;
    Object.defineProperty(out, name, {
      value: e.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    bytes += 1 + keyBytes + e.bytes;
  }
  return { value: out, bytes };
}

/**
 * The headers a delivery came with, ready to be published again (to a retry queue or the DLQ)
 * within `budgetBytes` of encoded header table: a publish whose header frame is larger than
 * the connection's frame size makes the broker close the whole connection, and the delivery
 * would come back to fail the same way. Over budget, the publisher's headers are left out and
 * `x-headers-dropped` says so; `CC` and `BCC` never go; the body is never touched.
 */
export function republishableHeaders(
  headers: unknown,
  budgetBytes: number,
): Record<string, unknown> {
  const own = ownHeaders(headers);
  // Routing instructions, not content: RabbitMQ sends a copy to every queue a `CC` or `BCC`
  // header names, even through the default exchange, so a publisher's `CC` naming the worker's
  // queue would make every dead letter of it come back, for ever. RabbitMQ itself drops `CC`
  // when it dead-letters with a fixed routing key.
  delete own.CC;
  delete own.BCC;
  const table = encodableTable(own, 0);
  if (table.bytes <= budgetBytes) return table.value as Record<string, unknown>;
  return { 'x-headers-dropped': `${table.bytes} bytes of headers; over the ${budgetBytes} limit` };
}

/** How deep `displayableHeaders` follows nested tables and arrays. */
const MAX_DISPLAY_DEPTH = 32;

function displayable(value: unknown, depth: number): unknown {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Buffer.isBuffer(value)) return { bytes: value.toString('base64') };
  if (typeof value !== 'object' || value === undefined) return undefined;
  if (depth >= MAX_DISPLAY_DEPTH) return `[nested deeper than ${MAX_DISPLAY_DEPTH}]`;
  if (Array.isArray(value)) return value.map((v) => displayable(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(value))
    Object.defineProperty(out, name, {
      value: displayable((value as Record<string, unknown>)[name], depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/**
 * Decoded headers as plain JSON for an operator (`dlq show`, `--json`): byte arrays as base64,
 * NaN and infinities as strings, decimals and timestamps as amqplib gives them, and nesting cut
 * at a depth a terminal can show. Strings are kept as they are; printing makes them safe.
 */
export function displayableHeaders(headers: unknown): Record<string, unknown> {
  return displayable(ownHeaders(headers), 0) as Record<string, unknown>;
}
