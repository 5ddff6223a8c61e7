/**
 * The checked-in JSON Schemas (docs/schemas/) as a validator: what every suite publishes and
 * every announcement the tests receive is held to them (publishEvents, collectAnnouncements).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { messageSchema, SCHEMAS_DIR } from '../../src/contract/json-schemas.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// CommonJS modules: under NodeNext their default import is the module, the class its `default`
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

function schemaFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? schemaFiles(join(dir, e.name))
      : e.name.endsWith('.json')
        ? [join(dir, e.name)]
        : [],
  );
}

/** The schemas as ajv reads them: draft 2020-12, strict, formats (`date-time`) asserted. */
export function contractAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  const ids = new Map<string, string>();
  const root = join(ROOT, SCHEMAS_DIR);
  for (const path of schemaFiles(root)) {
    const schema = JSON.parse(readFileSync(path, 'utf8')) as { $id: string };
    ajv.addSchema(schema);
    ids.set(relative(root, path), schema.$id);
  }
  const idOf = (file: string): string => {
    const id = ids.get(file);
    if (!id) throw new Error(`no schema file ${SCHEMAS_DIR}/${file}`);
    return id;
  };
  const cache = new Map<string, ValidateFunction>();
  const validator = (side: 'consumed' | 'published', type: string): ValidateFunction => {
    const key = `${side}\x1f${type}`;
    const known = cache.get(key);
    if (known) return known;
    const v = ajv.compile(messageSchema(side, type, idOf));
    cache.set(key, v);
    return v;
  };
  return { ajv, validator, idOf };
}

const describe = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`).join('; ');

export type Side = 'consumed' | 'published';

/** Why `event` breaks the schema of its type (the whole CloudEvent), or undefined. */
export function contractViolation(side: Side, event: unknown, v = shared()): string | undefined {
  const type = (event as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') return 'no type';
  const known = side === 'consumed' ? v.consumed.has(type) : v.published.has(type);
  if (!known) return `no schema for type ${type}`;
  const validate = v.validator(side, type);
  return validate(event) ? undefined : describe(validate.errors);
}

let cached:
  (ReturnType<typeof contractAjv> & { consumed: Set<string>; published: Set<string> }) | undefined;

function shared() {
  if (!cached) {
    const a = contractAjv();
    const names = (dir: string) =>
      new Set(
        readdirSync(join(ROOT, SCHEMAS_DIR, dir))
          .filter((f) => f.endsWith('.json') && f !== 'cloudevent.json')
          .map((f) => f.slice(0, -'.json'.length)),
      );
    cached = { ...a, consumed: names('consumed'), published: names('published') };
  }
  return cached;
}

/** Throws, naming the event and what is wrong, when it breaks its schema. */
export function assertContract(side: Side, event: unknown): void {
  const why = contractViolation(side, event);
  if (why === undefined) return;
  const e = event as { type?: unknown; id?: unknown };
  throw new Error(
    `${side} event ${String(e.type)} ${String(e.id)} breaks its schema (docs/schemas/): ${why}\n` +
      `${JSON.stringify(event).slice(0, 2000)}\n` +
      (side === 'consumed'
        ? 'A test that publishes an invalid event on purpose passes { invalid: true }.'
        : ''),
  );
}
