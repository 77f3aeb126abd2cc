import { describe, expect, it } from 'vitest';
import { USAGE_EXIT_CODE } from '../../lib/cli/program.ts';
import { cli } from '../support/cli.ts';

/** The table's rows (lines starting with `#n`), split into cells. */
function rows(out: string): string[][] {
  return out
    .split('\n')
    .filter((line) => line.startsWith('#'))
    .map((line) => line.trim().split(/\s+/));
}

/** Column order: RESTART, EXIT AT, DELAY, RESTART AT, BACKOFF AFTER, STATE. */
function column(out: string, index: number): string[] {
  return rows(out).map((cells) => cells[index] ?? '');
}

interface JsonStep {
  readonly finishedAt: number;
  readonly restartAt: number;
  readonly delayMs: number;
  readonly backoffMs: number;
}

describe('restart-scheduler simulate', () => {
  describe('default (kubelet preset)', () => {
    it('prints the kubelet timeline: 0s, 10s, 20s, 40s, 1m20s, 2m40s, then 5m', async () => {
      const { code, out, err } = await cli('simulate');
      expect(code).toBe(0);
      expect(err).toBe('');
      expect(out.split('\n')[0]).toBe('policy kubelet: initial 10s, max 5m, reset after 10m');
      expect(out).toMatch(/^RESTART\s+EXIT AT\s+DELAY\s+RESTART AT\s+BACKOFF AFTER\s+STATE$/m);
      expect(column(out, 0)).toEqual(['#1', '#2', '#3', '#4', '#5', '#6', '#7', '#8', '#9', '#10']);
      expect(column(out, 2)).toEqual(['0s', '10s', '20s', '40s', '1m20s', '2m40s', '5m', '5m', '5m', '5m']);
      expect(column(out, 4)).toEqual(['10s', '20s', '40s', '1m20s', '2m40s', '5m', '5m', '5m', '5m', '5m']);
      expect(column(out, 5)).toEqual(['Running', ...Array(9).fill('CrashLoopBackOff')]);
    });

    it('runs each container for 1s before it crashes', async () => {
      const { out } = await cli('simulate');
      expect(column(out, 1).slice(0, 4)).toEqual(['+1s', '+2s', '+13s', '+34s']);
      expect(column(out, 3).slice(0, 4)).toEqual(['+1s', '+12s', '+33s', '+1m14s']);
    });
  });

  describe('--json', () => {
    it('prints [{ finishedAt, restartAt, delayMs, backoffMs }] in ms from the first start', async () => {
      const { code, out, err } = await cli('simulate', '--json');
      expect(code).toBe(0);
      expect(err).toBe('');
      const steps = JSON.parse(out) as JsonStep[];
      expect(steps).toHaveLength(10);
      for (const step of steps) expect(Object.keys(step).sort()).toEqual(['backoffMs', 'delayMs', 'finishedAt', 'restartAt']);
      expect(steps.slice(0, 3)).toEqual([
        { finishedAt: 1_000, restartAt: 1_000, delayMs: 0, backoffMs: 10_000 },
        { finishedAt: 2_000, restartAt: 12_000, delayMs: 10_000, backoffMs: 20_000 },
        { finishedAt: 13_000, restartAt: 33_000, delayMs: 20_000, backoffMs: 40_000 },
      ]);
      expect(steps.map((step) => step.delayMs)).toEqual([0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000, 300_000]);
    });

    it('follows --runs', async () => {
      const { code, out } = await cli('simulate', '--json', '--runs', '1s,0,0');
      expect(code).toBe(0);
      expect(JSON.parse(out)).toEqual([
        { finishedAt: 1_000, restartAt: 1_000, delayMs: 0, backoffMs: 10_000 },
        { finishedAt: 1_000, restartAt: 11_000, delayMs: 10_000, backoffMs: 20_000 },
        { finishedAt: 11_000, restartAt: 31_000, delayMs: 20_000, backoffMs: 40_000 },
      ]);
    });

    it('keeps jittered back-offs within [b, b + f·b] of the jitter-free step', async () => {
      const { code, out } = await cli('simulate', '--json', '--jitter', '0.5', '--runs', '0,0,0,0,0,0,0,0');
      expect(code).toBe(0);
      const steps = JSON.parse(out) as JsonStep[];
      steps.forEach((step, index) => {
        const b = index === 0 ? 10_000 : Math.min(2 * steps[index - 1]!.backoffMs, 300_000);
        expect(step.backoffMs).toBeGreaterThanOrEqual(b);
        expect(step.backoffMs).toBeLessThanOrEqual(b + 0.5 * b);
      });
    });
  });

  describe('policy flags', () => {
    it('--policy reduced gives 1s doubling to 1m', async () => {
      const { code, out } = await cli('simulate', '--policy', 'reduced');
      expect(code).toBe(0);
      expect(out.split('\n')[0]).toBe('policy reduced: initial 1s, max 1m, reset after 10m');
      expect(column(out, 2)).toEqual(['0s', '1s', '2s', '4s', '8s', '16s', '32s', '1m', '1m', '1m']);
    });

    it('--initial-backoff and --max-backoff override the preset', async () => {
      const { code, out } = await cli('simulate', '--initial-backoff', '200ms', '--max-backoff', '1s', '--json', '--runs', '0,0,0,0,0');
      expect(code).toBe(0);
      expect((JSON.parse(out) as JsonStep[]).map((step) => step.delayMs)).toEqual([0, 200, 400, 800, 1_000]);
    });

    it('lowers the initial back-off to a smaller --max-backoff (KEP-5593)', async () => {
      const { code, out } = await cli('simulate', '--max-backoff', '5s');
      expect(code).toBe(0);
      expect(out.split('\n')[0]).toBe('policy kubelet: initial 5s, max 5s, reset after 10m');
      expect(column(out, 2)).toEqual(['0s', ...Array(9).fill('5s')]);
    });

    it.each([
      ['30s', '20s'],
      ['30.001s', '0s'],
    ])('--reset-after 30s with a run of %s → delay %s (reset only when strictly longer)', async (run, delay) => {
      const { code, out } = await cli('simulate', '--reset-after', '30s', '--runs', `0,0,${run}`);
      expect(code).toBe(0);
      expect(out.split('\n')[0]).toBe('policy kubelet: initial 10s, max 5m, reset after 30s');
      expect(column(out, 2)).toEqual(['0s', '10s', delay]);
    });
  });

  describe('usage errors', () => {
    it.each([
      ['an unknown preset', ['simulate', '--policy', 'fast'], '--policy: unknown preset "fast"; use one of kubelet, reduced'],
      ['a bad --initial-backoff', ['simulate', '--initial-backoff', 'ten'], '--initial-backoff: invalid duration "ten"'],
      ['a bad --max-backoff', ['simulate', '--max-backoff', '5x'], '--max-backoff: invalid duration "5x"'],
      ['a sub-millisecond --reset-after', ['simulate', '--reset-after', '1.5ms'], '--reset-after: invalid duration "1.5ms": finer than a millisecond'],
      ['a bad entry in --runs', ['simulate', '--runs', '1s,oops,2s'], '--runs: invalid duration "oops"'],
      ['an empty --runs', ['simulate', '--runs', ''], '--runs: invalid duration ""'],
      ['a --jitter out of range', ['simulate', '--jitter', '2'], '--jitter: expected a number between 0 and 1, got "2"'],
      ['a --max-backoff of 0', ['simulate', '--max-backoff', '0'], '--max-backoff: must be at least 1ms'],
      ['an unknown option', ['simulate', '--bogus'], "unknown option '--bogus'"],
      ['an unknown command', ['bogus'], "unknown command 'bogus'"],
      ['a flag without its value', ['simulate', '--policy'], "option '--policy <preset>' argument missing"],
    ])('rejects %s with exit code 2 and a message that says what was wrong', async (_name, argv, message) => {
      const { code, out, err } = await cli(...argv);
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(USAGE_EXIT_CODE).toBe(2);
      expect(out).toBe('');
      expect(err).toContain(`error: ${message}`);
    });
  });

  it('prints help and exits 0 for --help', async () => {
    const { code, out } = await cli('simulate', '--help');
    expect(code).toBe(0);
    expect(out).toContain('Usage: restart-scheduler simulate [options]');
    expect(out).toContain('--policy <preset>');
  });
});
