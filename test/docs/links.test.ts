import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { headingAnchors, proseLines, slug } from '../support/markdown.js';

/**
 * The documentation stays true to the repository: its links resolve, nothing points outside
 * the repository, and the README stays a short front page that links every doc.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Written in pieces, so this file does not contain what it looks for. */
const OUTSIDE = [['..', 'shared'].join('/'), ['EVENTS', 'md'].join('.')];
const README_MAX_LINES = 250;
const TABLE_MAX_WIDTH = 120;

/** Files git tracks, plus new ones not ignored (so the check works before a commit too). */
function repositoryFiles(): string[] {
  const out = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  return [...new Set(out.split('\0').filter(Boolean))].filter((f) => {
    const path = join(ROOT, f);
    return existsSync(path) && lstatSync(path).isFile();
  });
}

const files = repositoryFiles();
const markdown = files.filter((f) => f.endsWith('.md'));
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const anchorsOf = (file: string): Set<string> => headingAnchors(read(file));

/** The targets of the inline links of a markdown file (outside code), with their line. */
function linksOf(file: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  proseLines(read(file)).forEach((text, i) => {
    const prose = text.replace(/(`+)[^`]*?\1/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: m[1]!, line: i + 1 });
    }
  });
  return links;
}

/** What is wrong with one link, or undefined when it resolves. */
function brokenLink(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // http:, https:, mailto:
  const hash = target.indexOf('#');
  const pathPart = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = pathPart === '' ? file : relative(ROOT, resolve(ROOT, dirname(file), pathPart));
  if (resolved.startsWith('..')) return `points outside the repository (${resolved})`;
  if (!existsSync(join(ROOT, resolved))) return `no such file: ${resolved}`;
  if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) {
    return `no heading #${anchor} in ${resolved}`;
  }
  return undefined;
}

describe('documentation', () => {
  test('there is documentation to check', () => {
    expect(markdown).toContain('README.md');
    expect(markdown.filter((f) => f.startsWith('docs/')).length).toBeGreaterThan(0);
  });

  test('every relative link in every markdown file resolves, anchors included', () => {
    const broken: string[] = [];
    for (const file of markdown) {
      for (const { target, line } of linksOf(file)) {
        const why = brokenLink(file, target);
        if (why) broken.push(`${file}:${line}: ${target}: ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('no file points outside the repository', () => {
    const found: string[] = [];
    for (const file of files) {
      const text = read(file);
      for (const needle of OUTSIDE) if (text.includes(needle)) found.push(`${file}: ${needle}`);
    }
    expect(found).toEqual([]);
  });

  test(`README.md is at most ${README_MAX_LINES} lines and links every doc`, () => {
    const readme = read('README.md');
    expect(readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0)).toBeLessThanOrEqual(
      README_MAX_LINES,
    );
    const linked = new Set(linksOf('README.md').map((l) => l.target.split('#')[0]));
    const docs = markdown.filter((f) => /^docs\/[^/]+\.md$/.test(f));
    expect(docs.filter((d) => !linked.has(d))).toEqual([]);
  });

  test(`no markdown table is wider than ${TABLE_MAX_WIDTH} characters`, () => {
    const wide: string[] = [];
    for (const file of markdown) {
      proseLines(read(file)).forEach((line, i) => {
        if (/^\s*\|/.test(line) && [...line].length > TABLE_MAX_WIDTH)
          wide.push(`${file}:${i + 1}`);
      });
    }
    expect(wide).toEqual([]);
  });

  test('GitHub heading anchors', () => {
    expect(slug('`stock_levels` (fixed name): the figures now')).toBe(
      'stock_levels-fixed-name-the-figures-now',
    );
    expect(slug('Selling ahead of stock: backorders and pre-orders')).toBe(
      'selling-ahead-of-stock-backorders-and-pre-orders',
    );
    expect(slug('Envelope (fixed)')).toBe('envelope-fixed');
  });
});
