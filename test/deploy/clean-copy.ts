import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A clean copy of the repository in a new temporary folder: the files a fresh clone would
 * have (tracked, or new and not ignored: so it works before a commit too), as they are in the
 * working tree, with no node_modules and no dist/.
 */
export function cleanCopy(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `inventory-${label}-`));
  const listed = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  const files = [...new Set(listed.split('\0').filter(Boolean))].filter((f) =>
    existsSync(join(ROOT, f)),
  );
  const packed = spawnSync('tar', ['--null', '-T', '-', '-cf', '-'], {
    cwd: ROOT,
    input: files.join('\0'),
    maxBuffer: 1 << 30,
  });
  if (packed.status !== 0) throw new Error(`tar: ${packed.stderr.toString()}`);
  execFileSync('tar', ['-x', '-C', dir], { input: packed.stdout });
  return dir;
}

/** Removes the copy and the entry `npx` made for it in npm's cache. */
export function removeCopy(dir: string): void {
  const cache = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
  const npx = join(cache, '_npx');
  if (existsSync(npx)) {
    for (const entry of readdirSync(npx)) {
      const manifest = join(npx, entry, 'package.json');
      if (existsSync(manifest) && readFileSync(manifest, 'utf8').includes(dir)) {
        rmSync(join(npx, entry), { recursive: true, force: true });
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
