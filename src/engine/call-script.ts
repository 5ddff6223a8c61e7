import type { RedisClient } from './redis-client.js';
import { defineScripts, type ScriptSpec } from './lua-scripts.js';

type Run = (...args: (string | number)[]) => Promise<unknown>;

const registered = new WeakMap<RedisClient, Map<string, ScriptSpec>>();

/**
 * Calls one of the Lua scripts by name (src/lua/<name>-N.lua), registering every script on
 * the client the first time (the Engine registers them too; registering twice is harmless).
 */
export function callScript(
  redis: RedisClient,
  name: string,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  let specs = registered.get(redis);
  if (!specs) {
    specs = defineScripts(redis);
    registered.set(redis, specs);
  }
  const spec = specs.get(name);
  if (!spec) throw new Error(`no Lua script named ${name}`);
  if (spec.variadic ? keys.length < spec.fixedKeys : keys.length !== spec.fixedKeys) {
    throw new Error(`${name}: ${keys.length} keys given, script takes ${spec.fixedKeys}`);
  }
  const run = (redis as unknown as Record<string, Run>)[spec.command]!;
  return spec.variadic
    ? run.call(redis, keys.length, ...keys, ...args)
    : run.call(redis, ...keys, ...args);
}
