/**
 * A small YAML emitter for JSON-like data (block style), enough for docs/asyncapi.yaml; the
 * generator then formats the result with prettier. Strings are plain when YAML reads them back
 * as the same string, else JSON-quoted (a JSON string is a valid YAML double-quoted scalar).
 */

const PLAIN = /^[A-Za-z_/$.][\w ./$#()+,'-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i;

function scalar(v: string | number | boolean | null): string {
  if (typeof v !== 'string') return String(v);
  return PLAIN.test(v) && !RESERVED.test(v) && !v.endsWith(' ') && !v.includes(' #')
    ? v
    : JSON.stringify(v);
}

const key = (k: string): string => (/^[A-Za-z_$][\w.$-]*$/.test(k) ? k : JSON.stringify(k));

function lines(v: unknown, indent: string): string[] {
  if (Array.isArray(v)) {
    if (v.length === 0) return [`${indent}[]`];
    return v.flatMap((item) => {
      const [first, ...rest] = lines(item, `${indent}  `);
      return [`${indent}- ${first!.trimStart()}`, ...rest];
    });
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return [`${indent}{}`];
    return entries.flatMap(([k, x]) => {
      if (typeof x === 'string' && x.includes('\n')) {
        return [`${indent}${key(k)}: |-`, ...x.split('\n').map((l) => `${indent}  ${l}`)];
      }
      if (x !== null && typeof x === 'object' && Object.keys(x).length > 0) {
        return [`${indent}${key(k)}:`, ...lines(x, `${indent}  `)];
      }
      return [`${indent}${key(k)}: ${lines(x, '')[0]}`];
    });
  }
  return [`${indent}${scalar(v as string | number | boolean | null)}`];
}

export function toYaml(v: unknown): string {
  return `${lines(v, '').join('\n')}\n`;
}
