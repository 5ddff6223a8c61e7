import { describe, expect, it } from 'vitest';
import { belowEngines } from './node-version.js';

describe("the bench refuses a Node.js below the project's engines", () => {
  it('compares major, minor and patch', () => {
    expect(belowEngines('v20.20.2', '>=22.15')).toMatch(/v20\.20\.2 is below .*>=22\.15/);
    expect(belowEngines('v22.14.9', '>=22.15')).toBeDefined();
    expect(belowEngines('v22.15.0', '>=22.15')).toBeUndefined();
    expect(belowEngines('v24.22.3', '>=22.15')).toBeUndefined();
    expect(belowEngines('v23.0.0', '>=22.15.1')).toBeUndefined();
  });

  it('lets a range of another form through rather than guess', () => {
    expect(belowEngines('v20.20.2', '^22 || ^24')).toBeUndefined();
  });
});
