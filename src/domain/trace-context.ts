/**
 * W3C trace context, as the CloudEvents distributed-tracing extension carries it: the
 * `traceparent` and `tracestate` attributes of an event (or, from a publisher that puts them
 * there instead, AMQP headers of the same names). Tracing never decides whether an event is
 * applied: a value that is not a valid trace context is ignored, not refused.
 */

export interface TraceContext {
  /** `00-<trace id>-<parent id>-<flags>` (a later version's is passed on as version 00, as the
   * specification says a reader of version 00 must) */
  traceparent: string;
  /** vendor data, passed on as it came (when it is printable and not too long) */
  tracestate?: string;
  /** the trace id alone (32 hex digits): what the ledger keeps (processed_events.trace_id) */
  traceId: string;
}

/** Version 00's layout; a later version may add fields after a dash. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO = /^0+$/;
/** The specification's limit on tracestate: 32 entries of at most 256 characters (512 here). */
const MAX_TRACESTATE = 512;

/** The trace context of `traceparent` (and `tracestate`), or undefined if it is not one. */
export function parseTraceContext(
  traceparent: unknown,
  tracestate?: unknown,
): TraceContext | undefined {
  if (typeof traceparent !== 'string' || traceparent.length > 256) return undefined;
  const m = TRACEPARENT.exec(traceparent);
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m;
  if (version === 'ff' || ALL_ZERO.test(traceId!) || ALL_ZERO.test(parentId!)) return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  const state =
    typeof tracestate === 'string' &&
    tracestate.length <= MAX_TRACESTATE &&
    /^[\x20-\x7e]*$/.test(tracestate) &&
    tracestate.trim() !== ''
      ? tracestate
      : undefined;
  return {
    traceparent: `00-${traceId}-${parentId}-${flags}`,
    traceId: traceId!,
    ...(state !== undefined ? { tracestate: state } : {}),
  };
}
