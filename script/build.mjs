#!/usr/bin/env node
/* global console, process */
/**
 * Builds dist/ from the sources (`npm run build`): tsc (incremental, tsconfig.build.json: the
 * worker and the CLI, not the tests), then the Lua scripts, then the CLI's execute bit, which tsc
 * does not set and `npx inventory` needs after every build.
 *
 * --if-stale (`npm start`, and `prepare`, which npm runs on `npm ci`): build only when a source
 * is newer than the last build, so a start from a current build starts at once. A copy without
 * sources (the image's runtime stage, which has dist/ only) has nothing to build.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, cpSync, existsSync, openSync, readdirSync } from 'node:fs';
import { rmSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** What the build reads: a change to any of these (a folder's mtime covers a deleted file). */
const SOURCES = ['src', 'consumers', 'jobs', 'migrations', 'tsconfig.json', 'tsconfig.build.json'];
/** Touched after a successful build: its mtime is the build's. */
const STAMP = join(ROOT, 'dist', '.build-stamp');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');

/** The newest mtime (ms) under `path`, folders included. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

function stale() {
  if (!existsSync(STAMP) || !existsSync(CLI)) return true;
  const built = statSync(STAMP).mtimeMs;
  return SOURCES.some((s) => newest(join(ROOT, s)) > built);
}

function build() {
  let tsc;
  try {
    tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    console.error('build: typescript is not installed (npm ci without --omit=dev): not built');
    // `npm ci --omit=dev` in a checkout still installs; `npm start` then says why it cannot
    process.exit(process.env.npm_lifecycle_event === 'prepare' ? 0 : 1);
  }
  const started = new Date();
  // tsc trusts its build info: without the CLI it would not notice dist/ was emptied
  if (!existsSync(CLI)) rmSync(join(ROOT, 'dist', '.tsbuildinfo'), { force: true });
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
  // the Lua scripts as they are now: a deleted or renamed script must not linger
  rmSync(join(ROOT, 'dist', 'src', 'lua'), { recursive: true, force: true });
  cpSync(join(ROOT, 'src', 'lua'), join(ROOT, 'dist', 'src', 'lua'), { recursive: true });
  chmodSync(CLI, 0o755);
  // stamped with the time the build began: a source saved during the build is newer
  closeSync(openSync(STAMP, 'a'));
  utimesSync(STAMP, started, started);
  console.error(`build: dist/ built in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s`);
}

if (process.argv.includes('--if-stale')) {
  if (!existsSync(join(ROOT, 'src'))) process.exit(0); // a runtime copy: dist/ only
  if (stale()) build();
} else {
  build();
}
