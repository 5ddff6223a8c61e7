/**
 * `npm run schemas`: writes the contract's generated files, docs/schemas/**.json and
 * docs/asyncapi.yaml, from the zod schemas and the code's lists. `--check` writes nothing and
 * exits 1 when a checked-in file differs from a fresh generation (the contract test does the
 * same).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractFiles } from './files.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const files = await contractFiles();
const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [path, text] of files) {
  const abs = join(ROOT, path);
  let old: string | undefined;
  try {
    old = readFileSync(abs, 'utf8');
  } catch {
    old = undefined;
  }
  if (old === text) continue;
  stale.push(relative(ROOT, abs));
  if (!check) {
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, text);
  }
}
if (check && stale.length > 0) {
  console.error(`out of date (run npm run schemas):\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(`${files.size} files, ${stale.length} ${check ? 'out of date' : 'written'}`);
