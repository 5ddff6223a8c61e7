/**
 * The bench measures the worker on the Node.js it runs under (its children are spawned with the
 * same binary): a run under a Node the project does not support (package.json `engines`) would
 * print figures of a runtime nobody deploys, labelled as the project's.
 */

/**
 * Why `version` (e.g. `v20.20.2`) falls short of `range` (`>=22.15`, the form package.json
 * uses here), or undefined when it does not, or when the range is of another form.
 */
export function belowEngines(version: string, range: string): string | undefined {
  const want = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!want || !have) return undefined;
  const a = have.slice(1, 4).map(Number);
  const b = want.slice(1, 4).map((x) => Number(x ?? 0));
  for (let i = 0; i < 3; i++) {
    if (a[i]! > b[i]!) return undefined;
    if (a[i]! < b[i]!)
      return `Node.js ${version} is below the project's engines (${range}): put Node 24 first on PATH (bash .ci/run node prints how)`;
  }
  return undefined;
}
