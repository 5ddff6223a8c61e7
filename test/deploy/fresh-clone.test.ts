import { spawnSync } from 'node:child_process';
import { rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cleanCopy, removeCopy } from './clean-copy.js';

/**
 * What a new user does: clone, `npm ci`, `npx inventory ...`; then edit, rebuild (or
 * `npm start`, which rebuilds what changed), and `npx inventory ...` again. npm's cache is the
 * machine's (offline where it can), so no package is downloaded twice.
 */
describe('a fresh clone', () => {
  let dir = '';
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 240_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}`, stderr: r.stderr };
  };
  const inventoryHelp = () => {
    const r = run('npx', ['inventory', '--help']);
    expect(r.out).toContain('Usage: inventory');
    expect(r.status).toBe(0);
  };
  const prestart = () => run('npm', ['run', '--silent', 'prestart']);

  beforeAll(() => {
    dir = cleanCopy('fresh-clone');
  });
  afterAll(() => {
    if (dir) removeCopy(dir);
  });

  test('npx inventory works right after npm ci, and after every rebuild', () => {
    const ci = run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund']);
    expect(ci.status, ci.out).toBe(0);
    // npm ci built it (prepare): the CLI is there, with its shebang and execute bit
    const cli = join(dir, 'dist', 'src', 'cli.js');
    expect(statSync(cli).mode & 0o111).toBe(0o111);
    inventoryHelp();

    // npm start from a current build does not build
    const current = prestart();
    expect(current.status, current.out).toBe(0);
    expect(current.stderr).not.toContain('built in');

    // a source changed: npm start rebuilds, and the CLI still runs
    const later = new Date(Date.now() + 2_000);
    utimesSync(join(dir, 'src', 'config.ts'), later, later);
    const stale = prestart();
    expect(stale.status, stale.out).toBe(0);
    expect(stale.stderr).toContain('built in');
    inventoryHelp();

    // dist/ gone: a full build
    rmSync(join(dir, 'dist'), { recursive: true });
    const build = run('npm', ['run', 'build']);
    expect(build.status, build.out).toBe(0);
    expect(statSync(cli).mode & 0o111).toBe(0o111);
    inventoryHelp();
  });
});
