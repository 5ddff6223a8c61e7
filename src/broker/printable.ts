/**
 * Characters that change what a terminal shows rather than being shown: C0 controls (ESC
 * starts an escape sequence), DEL, C1 controls (CSI U+009B acts like ESC on some terminals),
 * the line and paragraph separators, and the bidirectional overrides and isolates that reorder
 * what follows them.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

const escape = (c: string): string => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`;

/**
 * Text from a message made safe to print on a terminal or put in a header a person reads: each
 * unsafe character becomes its `\uXXXX` escape, so nothing is hidden and nothing is executed.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** The unsafe characters JSON.stringify leaves as they are (it escapes C0 controls itself). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * JSON for a terminal, still valid JSON: the unsafe characters JSON.stringify keeps become
 * `\uXXXX` escapes (only strings can hold them; the indentation's newlines stay).
 */
export function printableJson(value: unknown, indent?: number): string {
  return (JSON.stringify(value, undefined, indent) ?? 'null').replace(UNSAFE_IN_JSON, escape);
}
