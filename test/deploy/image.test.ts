import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseDockerfile, type DockerInstruction } from '../../script/image-steps.mjs';
import { loadConfig } from '../../src/config.js';
import { ROOT } from './clean-copy.js';

/**
 * The Dockerfile and docker-compose.yml say what an operator expects of them. Docker does not
 * run here: script/image-steps.mjs carries out the Dockerfile's own instructions without it
 * (.ci/run runs it); this checks it understands every one of them.
 */

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const steps = parseDockerfile(read('Dockerfile'));
const DEFAULTS = loadConfig({});

/** The instructions of each stage, by the stage's name. */
function stages(all: DockerInstruction[]): Map<string, DockerInstruction[]> {
  const out = new Map<string, DockerInstruction[]>();
  let current: DockerInstruction[] | undefined;
  for (const s of all) {
    if (s.instruction === 'FROM') out.set(/\bAS\s+(\S+)$/i.exec(s.args)![1]!, (current = []));
    else current?.push(s);
  }
  return out;
}
const of = (list: DockerInstruction[], instruction: string) =>
  list.filter((s) => s.instruction === instruction).map((s) => s.args);

describe('Dockerfile', () => {
  const byStage = stages(steps);
  const runtime = byStage.get('runtime') ?? [];

  test('script/image-steps.mjs understands every instruction', () => {
    const plan = spawnSync(process.execPath, [join(ROOT, 'script/image-steps.mjs'), '--plan'], {
      encoding: 'utf8',
    });
    expect(plan.stderr).toBe('');
    expect(plan.status).toBe(0);
    for (const s of steps)
      expect(plan.stdout).toContain(`${String(s.line).padStart(3)}  ${s.instruction}`);
  });

  test('two stages on the current Node LTS, 24 (22 by a build argument), Debian slim', () => {
    expect(of(steps, 'ARG')).toEqual(['NODE_VERSION=24']);
    expect(of(steps, 'FROM')).toEqual([
      'node:${NODE_VERSION}-bookworm-slim AS build',
      'node:${NODE_VERSION}-bookworm-slim AS runtime',
    ]);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines;
    expect(engines.node).toBe('>=22.15');
  });

  test('the build stage installs everything and builds; the runtime, production dependencies and dist/ only', () => {
    const build = byStage.get('build') ?? [];
    const installs = of(build, 'RUN').filter((r) => /\bnpm ci\b/.test(r));
    expect(installs).toHaveLength(1);
    expect(installs[0]).not.toContain('--omit');
    expect(of(build, 'RUN')).toContain('npm run build');
    expect(of(runtime, 'RUN').some((r) => / npm ci --omit=dev\b/.test(r))).toBe(true);
    expect(of(runtime, 'COPY')).toEqual([
      'package.json package-lock.json ./',
      '--from=build /app/dist/ dist/',
    ]);
    // every file the build copies from the context is in the repository
    for (const copy of of(build, 'COPY')) {
      for (const src of copy.split(/\s+/).slice(0, -1))
        expect(existsSync(join(ROOT, src)), src).toBe(true);
    }
    // the CLI the image ships is the one `npx inventory` runs
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(pkg.bin.inventory).toBe('dist/src/cli.js');
  });

  test('node is the process, under tini, as user node, ready on /readyz', () => {
    expect(of(runtime, 'USER')).toEqual(['node']);
    const last = runtime.map((s) => s.instruction);
    expect(last.lastIndexOf('USER')).toBeGreaterThan(
      Math.max(last.lastIndexOf('RUN'), last.lastIndexOf('COPY')),
    );
    expect(of(runtime, 'ENTRYPOINT').map((e) => JSON.parse(e) as unknown)).toEqual([
      ['/usr/bin/tini', '--'],
    ]);
    expect(of(runtime, 'CMD').map((e) => JSON.parse(e) as unknown)).toEqual([
      ['node', 'dist/src/main.js'],
    ]);
    const [health] = of(runtime, 'HEALTHCHECK');
    const cmd = JSON.parse(/CMD\s+(\[.*\])$/.exec(health!)![1]!) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    expect(cmd[2]).toContain('/readyz');
    expect(health).toMatch(/--start-period=\d+s/);
  });

  test('the port exposed is the HTTP port, the default one', () => {
    const env = of(runtime, 'ENV').join(' ');
    expect(env).toContain('NODE_ENV=production');
    expect(env).toContain(`HTTP_PORT=${DEFAULTS.HTTP_PORT}`);
    expect(env).toContain(`HTTP_HOST=${DEFAULTS.HTTP_HOST}`);
    expect(of(runtime, 'EXPOSE')).toEqual([String(DEFAULTS.HTTP_PORT)]);
  });

  test('.dockerignore keeps local builds, packages and secrets out of the context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['.git', 'node_modules', 'dist', '.env', '.tools'])
      expect(ignored).toContain(entry);
  });
});

interface ComposeService {
  image?: string;
  build?: { context: string; args?: Record<string, string> };
  command?: unknown;
  environment?: Record<string, string>;
  stop_grace_period?: string;
  ports?: (string | { target: number; published?: number | string; host_ip?: string })[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

describe('docker-compose.yml', () => {
  const { load } = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };
  const compose = load(read('docker-compose.yml')) as { services: Record<string, ComposeService> };
  const { worker, ...others } = compose.services;

  test('builds the image, and lets the image run it (tini, node, its health check)', () => {
    expect(worker?.build?.context).toBe('.');
    expect(worker?.command).toBeUndefined();
    expect(worker?.build?.args?.NODE_VERSION).toBe('24');
  });

  test('starts the worker once the three services are healthy; each has a health check', () => {
    expect(Object.keys(others).sort()).toEqual(['mariadb', 'rabbitmq', 'redis']);
    for (const [name, service] of Object.entries(others)) {
      expect(service.healthcheck?.test.length, name).toBeGreaterThan(0);
      expect(worker?.depends_on?.[name]).toEqual({ condition: 'service_healthy' });
    }
    const env = worker?.environment ?? {};
    expect(new URL(env.AMQP_URL!).hostname).toBe('rabbitmq');
    expect(new URL(env.REDIS_URL!).hostname).toBe('redis');
    expect(new URL(env.MYSQL_URL!).hostname).toBe('mariadb');
    expect(() => loadConfig(env)).not.toThrow();
  });

  test('stop_grace_period is longer than the shutdown deadline', () => {
    const deadlineMs = loadConfig(worker?.environment ?? {}).SHUTDOWN_TIMEOUT_MS;
    const m = /^(\d+)s$/.exec(worker?.stop_grace_period ?? '');
    expect(m).not.toBeNull();
    expect(Number(m![1]) * 1000).toBeGreaterThan(deadlineMs + 5_000);
  });

  test('no fixed host port for the worker: --scale worker=3 does not clash', () => {
    expect(worker?.ports?.length).toBeGreaterThan(0);
    for (const port of worker?.ports ?? []) {
      if (typeof port === 'string') expect(port).toMatch(/^(127\.0\.0\.1::)?\d+$/);
      else expect([port.target, port.published]).toEqual([DEFAULTS.HTTP_PORT, undefined]);
    }
  });
});
