/**
 * Nothing in the service reads the table with a Scan (DESIGN §3): every read
 * is one key or one partition of an index. Tests may still dump a table.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/infra/bundling.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the service code', () => {
  it('never sends a ScanCommand (lib/ and lambdas/)', () => {
    const files = ['lib', 'lambdas'].flatMap((dir) => sources(join(PROJECT_ROOT, dir)));
    expect(files.length).toBeGreaterThan(50);
    const scanning = files.filter((file) => /\bScanCommand\b/.test(readFileSync(file, 'utf8'))).map((file) => relative(PROJECT_ROOT, file));
    expect(scanning).toEqual([]);
  });
});
