/**
 * The dashboard and the alert rules in ops/ stay true to the worker: promtool accepts the rules
 * and their unit tests pass; every metric an alert or a dashboard panel names is one a real
 * worker exports (read from its /metrics after it processed events); promtool's linter accepts
 * that scrape; every runbook link leads to a heading of the docs. promtool comes from Debian's
 * `prometheus` package (`.ci/run` installs it).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headingAnchors } from '../support/markdown.js';
import { E2E } from '../e2e/harness.js';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RULES = join(ROOT, 'ops/prometheus/alerts.yml');
const RULE_TESTS = join(ROOT, 'ops/prometheus/alerts.test.yml');
const DASHBOARD = join(ROOT, 'ops/grafana/inventory.json');

/** PromQL's functions, aggregations and keywords: every other bare name is a metric. */
const PROMQL_WORDS = new Set([
  ...['sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile'],
  ...['rate', 'irate', 'increase', 'delta', 'deriv', 'changes', 'resets', 'absent'],
  ...['histogram_quantile', 'time', 'label_values', 'vector', 'scalar', 'clamp_min', 'clamp_max'],
  ...['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool'],
  ...['and', 'or', 'unless', 'le', 'inf', 'nan'],
]);

/** The metric names a PromQL expression reads (label matchers, strings, durations set aside). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/label_values\(\s*([^,)]+?)\s*,\s*\w+\s*\)/g, '$1') // Grafana: (metric, label)
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\$\{?\w+\}?/g, ''); // Grafana variables
  // a name starts where no word character or digit precedes it (`30m` is a duration)
  const names = bare.match(/(?<![\w.])[a-zA-Z_:][\w:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n.toLowerCase())))];
}

interface Rule {
  alert: string;
  expr: string;
  annotations: { runbook_url?: string };
}

/** The rules of alerts.yml: promtool already parsed it; this reads just alert, expr, runbook. */
function rules(): Rule[] {
  const text = readFileSync(RULES, 'utf8');
  const out: Rule[] = [];
  for (const block of text.split(/\n\s+- alert: /).slice(1)) {
    const alert = block.split('\n')[0]!.trim();
    const exprMatch = /\n\s+expr: (>\n((?:\s{10,}.*\n)+)|(.*)\n)/.exec(block);
    const expr = (exprMatch?.[2] ?? exprMatch?.[3] ?? '').replace(/\s+/g, ' ').trim();
    const runbook = /runbook_url: (\S+)/.exec(block)?.[1];
    out.push({ alert, expr, annotations: runbook ? { runbook_url: runbook } : {} });
  }
  return out;
}

/** Every `expr` of the dashboard (panels and template variables). */
function dashboardExpressions(): string[] {
  const exprs: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'expr' || k === 'definition') && typeof x === 'string') exprs.push(x);
        else walk(x);
      }
    }
  };
  walk(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
  return exprs;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** promtool with `input` on its stdin; resolves with its exit code and output. */
function promtool(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', args, { cwd: ROOT });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
    p.stdin.end(input ?? '');
  });
}

describe('alert rules and dashboard', () => {
  let x: E2E;
  let scrape = '';
  let exported: Set<string>;

  beforeAll(async () => {
    const port = await freePort();
    x = await E2E.start('ops', { HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' });
    const t = x.tenant('ops');
    await x.run(
      x.ev(t, 'stock.received', { sku: 'A', quantity: 3 }),
      x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 5 }),
    );
    // every label set the dashboard groups by exists once something happened
    scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    exported = new Set<string>();
    for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(m[1]!);
      if (m[2] === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) exported.add(m[1]! + s);
    }
  }, 120_000);

  afterAll(async () => {
    await x?.close();
  });

  it('promtool accepts the rules, and their unit tests pass', async () => {
    const checked = await run('promtool', ['check', 'rules', RULES]);
    expect(checked.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const tested = await promtool(['test', 'rules', RULE_TESTS]);
    expect(tested.out).toMatch(/SUCCESS/);
    expect(tested.code).toBe(0);
  });

  it('every alert names only metrics the worker exports and has a runbook in the docs', () => {
    const problems: string[] = [];
    const anchors = headingAnchors(readFileSync(join(ROOT, 'docs/operations.md'), 'utf8'));
    const all = rules();
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const r of all) {
      const names = metricNames(r.expr);
      if (names.length === 0) problems.push(`${r.alert}: no metric in ${r.expr}`);
      for (const n of names)
        if (!exported.has(n)) problems.push(`${r.alert}: ${n} is not exported`);
      const url = r.annotations.runbook_url;
      const m = url ? /^docs\/operations\.md#(.+)$/.exec(url) : null;
      if (!m || !anchors.has(m[1]!)) problems.push(`${r.alert}: runbook ${url} leads nowhere`);
    }
    expect(problems).toEqual([]);
  });

  it('every dashboard expression names only metrics the worker exports', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      templating: { list: { type: string; name: string }[] };
    };
    expect(dashboard.templating.list.find((v) => v.type === 'datasource')?.name).toBe('datasource');
    const problems: string[] = [];
    const exprs = dashboardExpressions();
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    for (const e of exprs) {
      const names = metricNames(e);
      if (names.length === 0) problems.push(`no metric in ${e}`);
      for (const n of names) if (!exported.has(n)) problems.push(`${n} is not exported (${e})`);
    }
    expect(problems).toEqual([]);
  });

  it("promtool check metrics finds nothing wrong with the worker's own metrics", async () => {
    expect(scrape).toMatch(/^inventory_events_total\{/m);
    const linted = await promtool(['check', 'metrics'], scrape);
    const problems = linted.out.split('\n').filter(Boolean);
    // prom-client's own default gauges nodejs_active_*_total end in _total, which promtool's
    // linter flags; none of the worker's metrics may be flagged
    expect(problems.filter((l) => !/^nodejs_active_\w+_total /.test(l))).toEqual([]);
  });

  it('the metric-name reader reads what it should (so the checks above can fail)', () => {
    expect(metricNames('sum by (type) (rate(inventory_events_total{outcome="x"}[5m]))')).toEqual([
      'inventory_events_total',
    ]);
    expect(metricNames('max(a_b) - max(c offset 30m) > 10 or absent(d)')).toEqual([
      'a_b',
      'c',
      'd',
    ]);
  });
});
