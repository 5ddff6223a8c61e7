import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './redis-client.js';

/** Bump when a script's keys or arguments change, so old and new workers never mix. */
export const SCRIPT_VERSION = 8;

export const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'lua');

export interface ScriptSpec {
  /** file name without the key-count suffix, e.g. reserveCart */
  name: string;
  /** the command name registered on the client, e.g. inv1_reserveCart */
  command: string;
  /** fixed keys; `variadic` scripts take one more key per stock pair */
  fixedKeys: number;
  variadic: boolean;
  /** it includes includes/holds: after the stock keys it takes each pair's wait queue */
  waitQueues: boolean;
  /** the script as sent alone: BATCH_PRELUDE, then `body` */
  lua: string;
  /** the script's source with its includes, as the batch script wraps it (script-batch.ts) */
  body: string;
}

/**
 * Declares `BATCH` (nil) for a script sent alone. Inside the batch script, `BATCH` is instead a
 * parameter of the function each script's body becomes: the batch's context (script-batch.ts;
 * includes/base.lua reads it).
 */
const BATCH_PRELUDE = 'local BATCH -- nil: this script runs alone\n';

const INCLUDE = /^--- @include "([^"]+)"\s*$/gm;

function resolveIncludes(source: string, seen = new Set<string>()): string {
  return source.replace(INCLUDE, (_, name: string) => {
    if (seen.has(name)) return '';
    seen.add(name);
    return resolveIncludes(readFileSync(join(LUA_DIR, `${name}.lua`), 'utf8'), seen);
  });
}

/** Reads every `verbNoun-N.lua` / `verbNoun-N+.lua`; the key count comes from the name. */
export function readScripts(): ScriptSpec[] {
  return readdirSync(LUA_DIR)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const source = readFileSync(join(LUA_DIR, file), 'utf8');
      const m = /^([a-zA-Z]+)-(\d+)(\+?)\.lua$/.exec(file);
      if (!m) throw new Error(`Lua file name must be verbNoun-N.lua or verbNoun-N+.lua: ${file}`);
      const name = m[1]!;
      const body = resolveIncludes(source);
      return {
        name,
        command: `inv${SCRIPT_VERSION}_${name}`,
        fixedKeys: Number(m[2]),
        variadic: m[3] === '+',
        waitQueues: source.includes('--- @include "includes/holds"'),
        lua: BATCH_PRELUDE + body,
        body,
      };
    });
}

/** Registers every script on the client once (ioredis sends EVALSHA, falling back to EVAL). */
export function defineScripts(redis: RedisClient): Map<string, ScriptSpec> {
  const specs = new Map<string, ScriptSpec>();
  for (const spec of readScripts()) {
    redis.defineCommand(spec.command, {
      lua: spec.lua,
      ...(spec.variadic ? {} : { numberOfKeys: spec.fixedKeys }),
    });
    specs.set(spec.name, spec);
  }
  return specs;
}
