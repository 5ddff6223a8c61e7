#!/usr/bin/env node
/* global clearTimeout, console, process, setTimeout */
/**
 * The Dockerfile's steps without Docker (CI's machine has none and cannot pull images): reads
 * the Dockerfile and carries out each instruction on folders, on a clean copy of the repository,
 * then runs the last stage as `docker run` would and stops it as `docker stop` does:
 *
 * - FROM: a folder for the stage's filesystem; the image's Node is this machine's `node`, whose
 *   major version must be the image's (NODE_VERSION).
 * - WORKDIR, COPY (from the build context or `--from` a stage), ENV, USER, EXPOSE, HEALTHCHECK,
 *   ENTRYPOINT, CMD: as Docker does them. An instruction it does not know stops it: teach it.
 * - RUN: the same command with `sh -c` in the stage's WORKDIR. `--mount=type=cache` is npm's
 *   cache: this machine's (offline where it can). `apt-get install` is the base image's part: the
 *   packages must be installed on this machine (.ci/run installs tini).
 * - The run, as `docker compose up --scale worker=3`: three ENTRYPOINT + CMD processes at once in
 *   the runtime folder with the image's ENV, as an unprivileged user (USER's, else nobody: the
 *   folder is root's, as in the image), each on an HTTP port of its own, against the local
 *   services in a new vhost, database and Redis prefix; waits until HEALTHCHECK's command passes
 *   for each; the CLI (production dependencies only) publishes an event a worker must apply;
 *   SIGTERM to each; every exit status must be 0.
 *
 * Usage: node script/image-steps.mjs [--plan] [--keep] [--replicas N] [--build-arg NAME=VALUE]
 *   --plan                   print the instructions and what each does here, run nothing
 *   --keep                   leave the folders (printed) for a look afterwards
 *   --replicas N             how many workers to run (default 3)
 *   --build-arg NAME=VALUE   as docker build's: NODE_VERSION=22 on Node 22
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = (text) => console.log(`image-steps [${elapsed()}] ${text}`);
const fail = (text) => {
  throw new Error(text);
};

/** The Dockerfile's instructions: continuation lines joined, comments and blanks left out. */
export function parseDockerfile(text) {
  const out = [];
  let pending = '';
  let first = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (!pending) first = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const whole = `${pending}${line}`.trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(whole);
    out.push({ instruction: m[1].toUpperCase(), args: m[2], line: first });
  });
  return out;
}

/** Leading `--name=value` flags of an instruction, and what follows them. */
function flags(args) {
  const found = {};
  let rest = args;
  for (let m = /^--([a-z-]+)=(\S+)\s*/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s*/.exec(rest)) {
    found[m[1]] = m[2];
    rest = rest.slice(m[0].length);
  }
  return { flags: found, rest };
}

/** `${NAME}` in FROM, from the ARGs before it. */
const expand = (text, args) => text.replace(/\$\{(\w+)\}/g, (_, name) => args[name] ?? '');

/** `K=V K2=V2` (no quoting: the Dockerfile's ENV lines have none). */
function envPairs(args) {
  return Object.fromEntries(
    args.split(/\s+/).map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 1) fail(`ENV ${args}: only the K=V form is understood here`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}

/** The packages an `apt-get ... install ... <pkg>` command line installs. */
function aptPackages(command) {
  const install = command
    .split('&&')
    .map((c) => c.trim())
    .find((c) => /^apt-get\s.*\binstall\b/.test(c));
  if (!install) return [];
  const words = install.split(/\s+/);
  return words.slice(words.indexOf('install') + 1).filter((w) => !w.startsWith('-'));
}

/** Carries out the build: every instruction, in order. Returns the last stage. */
function build(steps, work, context, plan, buildArgs = {}) {
  const args = {};
  const stages = new Map();
  let stage;
  const inStage = (s, path) => join(s.root, path.startsWith('/') ? path : join(s.workdir, path));
  for (const { instruction, args: text, line } of steps) {
    const show = `${instruction} ${text}`.slice(0, 110);
    if (plan) {
      console.log(`${String(line).padStart(3)}  ${show}`);
    } else if (
      !['ARG', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD'].includes(instruction)
    ) {
      say(show);
    }
    switch (instruction) {
      case 'ARG': {
        const [name, value = ''] = text.split('=');
        args[name] = buildArgs[name] ?? value;
        break;
      }
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(expand(text, args));
        const image = m[1];
        const node = /^node:(\d+)-/.exec(image);
        if (!node) fail(`FROM ${image}: only node:<major>-... images are understood here`);
        if (!plan && process.versions.node.split('.')[0] !== node[1]) {
          fail(`FROM ${image}: this machine's node is ${process.version}, not Node ${node[1]}`);
        }
        stage = {
          name: m[2] ?? `stage${stages.size}`,
          root: join(work, 'stages', m[2] ?? `${stages.size}`),
        };
        Object.assign(stage, { workdir: '/', env: {}, user: 'root', image });
        stages.set(stage.name, stage);
        if (!plan) mkdirSync(stage.root, { recursive: true });
        break;
      }
      case 'WORKDIR':
        stage.workdir = text;
        if (!plan) mkdirSync(inStage(stage, text), { recursive: true });
        break;
      case 'COPY': {
        const { flags: f, rest } = flags(text);
        const unknown = Object.keys(f).filter((k) => k !== 'from');
        if (unknown.length) fail(`COPY --${unknown[0]}: not understood here`);
        const parts = rest.split(/\s+/);
        const dest = parts.pop();
        const from = f.from === undefined ? undefined : stages.get(f.from);
        if (f.from !== undefined && !from) fail(`COPY --from=${f.from}: no such stage`);
        if (plan) break;
        for (const src of parts) {
          const source = from ? join(from.root, src) : join(context, src);
          if (!existsSync(source)) fail(`COPY ${src}: not in the ${from ? 'stage' : 'context'}`);
          const target = inStage(stage, dest);
          if (statSync(source).isDirectory()) {
            cpSync(source, target, { recursive: true });
          } else {
            const file = dest.endsWith('/') ? join(target, basename(src)) : target;
            mkdirSync(dirname(file), { recursive: true });
            cpSync(source, file);
          }
        }
        break;
      }
      case 'RUN': {
        const { flags: f, rest } = flags(text);
        const unknown = Object.keys(f).filter((k) => k !== 'mount');
        if (unknown.length) fail(`RUN --${unknown[0]}: not understood here`);
        if (f.mount !== undefined && !/^type=cache,target=\/root\/\.npm$/.test(f.mount)) {
          fail(`RUN --mount=${f.mount}: only npm's cache is understood here`);
        }
        if (/^apt-get\b/.test(rest)) {
          const missing = aptPackages(rest).filter(
            (p) =>
              spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout !==
              'install ok installed',
          );
          if (plan) console.log(`     here: the packages must be installed: ${aptPackages(rest)}`);
          else if (missing.length)
            fail(`install ${missing.join(' ')} here (apt-get), as the image does`);
          else say(`  installed here: ${aptPackages(rest).join(' ')}`);
          break;
        }
        if (plan) break;
        const t = Date.now();
        const r = spawnSync('sh', ['-c', rest], {
          cwd: inStage(stage, '.'),
          stdio: 'inherit',
          env: { ...process.env, ...stage.env, npm_config_prefer_offline: 'true' },
        });
        if (r.status !== 0) fail(`RUN ${rest}: exit status ${r.status}`);
        say(`  done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
        break;
      }
      case 'ENV':
        Object.assign(stage.env, envPairs(text));
        break;
      case 'USER':
        stage.user = text;
        break;
      case 'EXPOSE':
        stage.expose = text;
        break;
      case 'HEALTHCHECK': {
        const m = /^(.*?)\bCMD\s+(\[.*\])$/.exec(text);
        if (!m) fail('HEALTHCHECK: only the exec form, CMD [...], is understood here');
        stage.health = JSON.parse(m[2]);
        break;
      }
      case 'ENTRYPOINT':
      case 'CMD':
        if (!text.startsWith('[')) fail(`${instruction}: the exec form only (no sh as PID 1)`);
        stage[instruction.toLowerCase()] = JSON.parse(text);
        break;
      default:
        fail(`line ${line}: ${instruction} is not understood here: teach script/image-steps.mjs`);
    }
  }
  return stage;
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `setpriv` arguments that run a command as the image's USER (nobody when there is none). */
function asUser(user) {
  const known = spawnSync('id', ['-u', user]).status === 0;
  const name = user !== 'root' && known ? user : 'nobody';
  const group = spawnSync('id', ['-gn', name], { encoding: 'utf8' }).stdout.trim();
  return { name, prefix: ['setpriv', `--reuid=${name}`, `--regid=${group}`, '--clear-groups'] };
}

/** One container of the stage: its process, its environment, how it exited. */
async function startReplica(stage, names, user, cwd, index) {
  const port = await freePort(); // a container has a network of its own: here, a port
  const env = {
    PATH: process.env.PATH,
    // tini is PID 1 in the container; here it is not, and must adopt orphans to reap them
    TINI_SUBREAPER: '1',
    ...stage.env,
    AMQP_URL: `amqp://guest:guest@127.0.0.1:5672/${names.vhost}`,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    MYSQL_URL: `mysql://root@127.0.0.1:3306/${names.database}`,
    REDIS_PREFIX: names.prefix,
    HTTP_PORT: String(port),
  };
  const argv = [...(stage.entrypoint ?? []), ...stage.cmd];
  say(`worker ${index}: as ${user.name} in ${cwd}: ${argv.join(' ')} (HTTP_PORT=${port})`);
  const replica = { index, env, exit: undefined };
  replica.child = spawn(user.prefix[0], [...user.prefix.slice(1), '--', ...argv], {
    cwd,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  replica.exited = new Promise((resolve) =>
    replica.child.on('exit', (code, signal) => {
      replica.exit = { code, signal };
      resolve(replica.exit);
    }),
  );
  return replica;
}

/**
 * Runs the stage as `docker compose up --scale worker=N` would (N containers started at once
 * on a new database), checks them, stops them as `docker stop` does.
 */
async function runStage(stage, names, replicas) {
  const cwd = join(stage.root, stage.workdir);
  const user = asUser(stage.user);
  const workers = [];
  const asThem = (env, cmd) =>
    spawnSync(user.prefix[0], [...user.prefix.slice(1), '--', ...cmd], {
      cwd,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
  try {
    for (let i = 1; i <= replicas; i++)
      workers.push(await startReplica(stage, names, user, cwd, i));
    // HEALTHCHECK's own command, once a second, as Docker would (its start period is 120 s)
    const until = Date.now() + 180_000;
    for (const w of workers) {
      for (;;) {
        if (w.exit)
          fail(`worker ${w.index} exited (${JSON.stringify(w.exit)}) before it was ready`);
        if (asThem(w.env, stage.health).status === 0) break;
        if (Date.now() > until) fail(`worker ${w.index}: HEALTHCHECK did not pass within 180 s`);
        await sleep(1_000);
      }
    }
    say(`HEALTHCHECK passes on all ${replicas}: /readyz is 200`);

    // the image's CLI, on production dependencies only: an event published, applied, mirrored
    const env = workers[0].env;
    const location = `IMG-${randomBytes(3).toString('hex')}`;
    const cli = ['node', 'dist/src/cli.js'];
    const upsert = asThem(env, [...cli, 'location', 'upsert', location, '--name', 'image steps']);
    if (upsert.status !== 0) fail(`inventory location upsert: ${upsert.stderr}`);
    for (const deadline = Date.now() + 60_000; ; await sleep(500)) {
      const listed = asThem(env, [...cli, 'locations', '--json']);
      if (listed.status === 0 && listed.stdout.includes(location)) break;
      if (Date.now() > deadline) fail(`no worker applied location.upserted: ${listed.stderr}`);
    }
    say(`the CLI published location.upserted ${location}; a worker applied it`);

    const stopAt = Date.now();
    for (const w of workers) w.child.kill('SIGTERM');
    const limit = setTimeout(() => workers.forEach((w) => w.child.kill('SIGKILL')), 30_000);
    await Promise.all(workers.map((w) => w.exited));
    clearTimeout(limit);
    const took = ((Date.now() - stopAt) / 1000).toFixed(1);
    const bad = workers.filter((w) => w.exit.code !== 0);
    if (bad.length) {
      fail(
        `after SIGTERM: ${bad.map((w) => `worker ${w.index} exited ${w.exit.code ?? w.exit.signal}`)}`,
      );
    }
    say(`SIGTERM: all ${replicas} exited 0 within ${took} s`);
  } finally {
    for (const w of workers.filter((w) => !w.exit)) {
      w.child.kill('SIGKILL');
      await w.exited;
    }
  }
}

/** Removes the run's vhost, database and Redis keys. */
async function dropResources(names) {
  spawnSync('rabbitmqctl', ['-q', 'delete_vhost', names.vhost]);
  const { createConnection } = await import('mysql2/promise');
  const conn = await createConnection({ host: '127.0.0.1', user: 'root' });
  await conn.query(`DROP DATABASE IF EXISTS \`${names.database}\``);
  await conn.end();
  const { Redis } = await import('ioredis');
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  for (const pattern of [`${names.prefix}:*`, `{${names.prefix}.jobs}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  await redis.quit();
}

/** The files a clean clone has (tracked, or new and not ignored), as they are now. */
function cleanCopy(dir) {
  const listed = spawnSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  ).stdout;
  const files = listed.split('\0').filter((f) => f && existsSync(join(ROOT, f)));
  mkdirSync(dir, { recursive: true });
  const tar = spawnSync('sh', ['-c', `tar --null -T - -cf - | tar -x -C "${dir}"`], {
    cwd: ROOT,
    input: files.join('\0'),
  });
  if (tar.status !== 0) fail(`copying the repository: ${tar.stderr}`);
}

async function main() {
  const plan = process.argv.includes('--plan');
  const keep = process.argv.includes('--keep');
  const at = process.argv.indexOf('--replicas');
  const replicas = at > 0 ? Number(process.argv[at + 1]) : 3;
  if (!(replicas >= 1)) fail('--replicas N: N at least 1');
  // --build-arg NAME=VALUE, as docker build takes it
  const buildArgs = Object.fromEntries(
    process.argv
      .flatMap((a, i) => (a === '--build-arg' ? [process.argv[i + 1] ?? ''] : []))
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  const steps = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  if (plan) {
    build(steps, '', '', true, buildArgs);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'inventory-image-'));
  chmodSync(work, 0o755); // the run's user must reach the runtime folder
  const suffix = randomBytes(4).toString('hex');
  const names = {
    vhost: `image_${suffix}`,
    database: `image_${suffix}`,
    prefix: `image_${suffix}`,
  };
  let made = false;
  try {
    const context = join(work, 'context');
    cleanCopy(context);
    say(`build context: a clean copy of the repository in ${context}`);
    const stage = build(steps, work, context, false, buildArgs);
    if (!stage.cmd || !stage.health) fail('the last stage has no CMD or no HEALTHCHECK');
    say(`built: stage ${stage.name}, ${stage.image}, USER ${stage.user}`);
    spawnSync('rabbitmqctl', ['-q', 'add_vhost', names.vhost], { stdio: 'inherit' });
    made = true;
    const perms = ['-q', 'set_permissions', '-p', names.vhost, 'guest', '.*', '.*', '.*'];
    spawnSync('rabbitmqctl', perms, { stdio: 'inherit' });
    await runStage(stage, names, replicas);
    say('all steps passed');
  } finally {
    if (made) await dropResources(names).catch((e) => say(`cleaning up: ${e}`));
    if (keep) say(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
    say('cleaned up');
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(`image-steps [${elapsed()}] FAILED: ${e.message}`);
    process.exit(1);
  });
}
