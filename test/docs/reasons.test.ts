import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { DEAD_LETTER_REASONS } from '../../src/errors/reasons.js';

/** The dead-letter reasons ops filter on are documented where the runbooks are, all of them. */
it('docs/operations.md lists every dead-letter reason, and no other', () => {
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const section = doc.split('#### Dead-letter reasons')[1]?.split('\n#')[0] ?? '';
  const listed = [...section.matchAll(/^- `([a-z-]+)`:/gm)].map((m) => m[1]);
  expect(listed.sort()).toEqual(Object.keys(DEAD_LETTER_REASONS).sort());
});
