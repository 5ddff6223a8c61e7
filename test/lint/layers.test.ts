/**
 * The layer rule (.dependency-cruiser.cjs, run by `npm run lint`) holds for the code, and fails
 * when it should: a copy of a few files with an upward import, a circle, and a consumer
 * reaching past the domain is refused with the rule each one breaks.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');
const RULES = join(ROOT, '.dependency-cruiser.cjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** depcruise on `dirs` of `cwd`, with the project's rules; the violations it reports. */
async function violations(cwd: string, dirs: string[]): Promise<Violation[]> {
  const { stdout } = await run(
    DEPCRUISE,
    [
      ...dirs,
      '--config',
      RULES,
      '--output-type',
      'json',
      '--ts-config',
      join(ROOT, 'tsconfig.json'),
    ],
    { cwd, maxBuffer: 64 * 1024 * 1024 },
  ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const tmp = mkdtempSync(join(tmpdir(), 'layers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const file = (path: string, text: string) => {
  mkdirSync(dirname(join(tmp, path)), { recursive: true });
  writeFileSync(join(tmp, path), text);
};

it('the code keeps its layers: no violation', async () => {
  expect(await violations(ROOT, ['src', 'consumers', 'jobs', 'migrations'])).toEqual([]);
}, 120_000);

it('an upward import, a circle and a consumer past the domain are each refused', async () => {
  file('src/ledger/mirror.ts', 'export const mirror = 1;\n');
  file(
    'src/domain/model.ts',
    "import { mirror } from '../ledger/mirror.js';\nexport const m = mirror;\n",
  );
  file('src/engine/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
  file('src/engine/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
  file(
    'consumers/cart-added.ts',
    "import { mirror } from '../src/ledger/mirror.js';\nexport default mirror;\n",
  );
  file(
    'src/reconcile/pass.ts',
    "import { job } from '../../jobs/job.js';\nexport const p = job;\n",
  );
  file('jobs/job.ts', 'export const job = 1;\n');
  const found = (await violations(tmp, ['src', 'consumers', 'jobs'])).map(
    (v) => `${v.rule.name}: ${v.from} -> ${v.to}`,
  );
  expect(found.sort()).toEqual(
    [
      'consumers-import-only-the-domain: consumers/cart-added.ts -> src/ledger/mirror.ts',
      'domain-imports-only-errors: src/domain/model.ts -> src/ledger/mirror.ts',
      'no-circular: src/engine/a.ts -> src/engine/b.ts',
      'reconcile-stays-below-jobs: src/reconcile/pass.ts -> jobs/job.ts',
    ].sort(),
  );
}, 120_000);
