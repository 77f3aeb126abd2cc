/**
 * The soak tool (`npm run soak`): its accounting catches each way a restart
 * can go wrong, its flags refuse nonsense, and a short soak with a `kill -9`
 * of the runtime in the middle loses, duplicates and hurries nothing.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/cli/errors.ts';
import { containerKey } from '../../lib/core/index.ts';
import { percentile, SoakLedger, type DecidedRestart, type ReceivedRestart } from '../../scripts/soak/ledger.ts';
import { parseSoakArgs, SOAK_DEFAULTS } from '../../scripts/soak/options.ts';
import { soakPassed, type SoakReport } from '../../scripts/soak/soak.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'crasher-0_soak_uid-0_app_';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** A decision for restart `restartCount`, due `delayMs` after an exit at T0 + `at`. */
function decided(restartCount: number, delayMs: number, at = 0, key = KEY): DecidedRestart {
  return { key, restartCount, restartAt: T0 + at + delayMs, delayMs, finishedAt: T0 + at, decidedAt: T0 + at + 5 };
}

/** The notice for `decision`, fired `lateMs` after its instant and received 2 ms later. */
function noticeFor(decision: DecidedRestart, lateMs = 3, overrides: Partial<ReceivedRestart> = {}): ReceivedRestart {
  const firedAt = decision.restartAt + lateMs;
  return {
    restartId: `${decision.key}#${decision.restartCount}`,
    key: decision.key,
    restartCount: decision.restartCount,
    restartAt: decision.restartAt,
    firedAt,
    recovered: false,
    receivedAt: firedAt + 2,
    ...overrides,
  };
}

describe('SoakLedger', () => {
  describe('a clean run', () => {
    it('counts each exit and restart once and finds nothing wrong, whichever arrives first', () => {
      const ledger = new SoakLedger();
      const first = decided(1, 0);
      const second = decided(2, 100, 50);
      ledger.decide(first);
      ledger.receive(noticeFor(first));
      // The notice can beat the answer to the POST that caused it.
      ledger.receive(noticeFor(second));
      ledger.decide(second);
      expect(ledger.outstanding).toBe(0);
      expect(ledger.summary()).toMatchObject({ exits: 2, restarts: 2, duplicates: 0, early: 0, lost: 0, unexpected: 0, conflictingDecisions: 0, mismatches: 0, problems: [] });
    });
  });

  describe('receive', () => {
    it('counts a notice repeated with the same restartId as a duplicate, not as a restart', () => {
      const ledger = new SoakLedger();
      const decision = decided(1, 0);
      ledger.decide(decision);
      expect(ledger.receive(noticeFor(decision))).toBe(true);
      expect(ledger.receive(noticeFor(decision, 40))).toBe(false);
      expect(ledger.summary()).toMatchObject({ restarts: 1, duplicates: 1, lost: 0 });
      expect(ledger.summary().problems).toEqual([expect.objectContaining({ kind: 'duplicate', key: KEY, restartCount: 1 })]);
    });

    it('counts a second notice for the same container and restart count as a duplicate even under another restartId', () => {
      const ledger = new SoakLedger();
      const decision = decided(1, 0);
      ledger.decide(decision);
      ledger.receive(noticeFor(decision));
      ledger.receive(noticeFor(decision, 3, { restartId: 'something-else' }));
      expect(ledger.summary()).toMatchObject({ restarts: 1, duplicates: 1 });
    });

    it.each([
      ['fired before the restartAt it carries', { firedAt: T0 + 199, receivedAt: T0 + 201 }],
      ['fired before the decided restartAt (the notice claims an earlier instant)', { restartAt: T0 + 150, firedAt: T0 + 160, receivedAt: T0 + 210 }],
      ['received before finishedAt + delay', { receivedAt: T0 + 199 }],
    ])('counts a restart %s as early, once', (_case, overrides) => {
      const ledger = new SoakLedger();
      const decision = decided(1, 200);
      ledger.decide(decision);
      ledger.receive(noticeFor(decision, 0, overrides));
      expect(ledger.summary()).toMatchObject({ restarts: 1, early: 1, lost: 0 });
    });

    it('counts an early restart once even when it is early every way', () => {
      const ledger = new SoakLedger();
      const decision = decided(1, 200);
      ledger.receive(noticeFor(decision, -50, { receivedAt: T0 + 100 }));
      ledger.decide(decision);
      expect(ledger.summary().early).toBe(1);
    });

    it('finds a restart that fired exactly at its instant and arrived at finishedAt + delay on time', () => {
      const ledger = new SoakLedger();
      const decision = decided(1, 200);
      ledger.decide(decision);
      ledger.receive(noticeFor(decision, 0, { receivedAt: T0 + 200 }));
      expect(ledger.summary().early).toBe(0);
    });
  });

  describe('summary', () => {
    it('counts a decided restart that never arrived as lost, and one nobody decided as unexpected', () => {
      const ledger = new SoakLedger();
      const arrived = decided(1, 0);
      const missing = decided(2, 100, 20);
      ledger.decide(arrived);
      ledger.receive(noticeFor(arrived));
      ledger.decide(missing);
      ledger.receive(noticeFor(decided(1, 0, 0, 'other_soak_uid-9_app_')));
      expect(ledger.outstanding).toBe(1);
      const summary = ledger.summary();
      expect(summary).toMatchObject({ exits: 2, restarts: 2, lost: 1, unexpected: 1, duplicates: 0, early: 0 });
      expect(summary.problems.map((problem) => [problem.kind, problem.restartCount])).toEqual([
        ['lost', 2],
        ['unexpected', 1],
      ]);
    });

    it('counts two exits answered with the same restart count as conflicting, and a notice that moves the instant as a mismatch', () => {
      const ledger = new SoakLedger();
      ledger.decide(decided(1, 0));
      ledger.decide(decided(1, 0, 30));
      ledger.receive(noticeFor(decided(1, 0), 3, { restartAt: T0 - 10, firedAt: T0 + 1, receivedAt: T0 + 2 }));
      expect(ledger.summary()).toMatchObject({ exits: 1, conflictingDecisions: 1, mismatches: 1 });
    });

    it('summarises lateness as firedAt - restartAt and receivedAt - restartAt', () => {
      const ledger = new SoakLedger();
      for (let count = 1; count <= 100; count++) {
        const decision = decided(count, 0, count * 1_000);
        ledger.decide(decision);
        ledger.receive(noticeFor(decision, count));
      }
      const { lateness, observedLateness, recovered, latest } = ledger.summary();
      expect(lateness).toEqual({ p50: 50, p99: 99, max: 100 });
      expect(observedLateness).toEqual({ p50: 52, p99: 101, max: 102 });
      expect(recovered).toBe(0);
      // The latest restarts are kept, latest first, to say which ones and why.
      expect(latest.map((restart) => [restart.restartCount, restart.latenessMs])).toEqual([
        [100, 100],
        [99, 99],
        [98, 98],
        [97, 97],
        [96, 96],
      ]);
    });
  });
});

describe('percentile', () => {
  it.each([
    [[], 99, 0],
    [[7], 50, 7],
    [[5, 1, 4, 2, 3], 50, 3],
    [[5, 1, 4, 2, 3], 100, 5],
    [[5, 1, 4, 2, 3], 1, 1],
  ])('of %j at p%d is %d (nearest rank)', (samples, p, expected) => {
    expect(percentile(samples, p)).toBe(expected);
  });
});

describe('soakPassed', () => {
  const clean = {
    restarts: 10,
    duplicates: 0,
    lost: 0,
    early: 0,
    unexpected: 0,
    client: { conflictingDecisions: 0, posting: { rejectedExits: 0 } },
  } as unknown as Omit<SoakReport, 'passed'>;

  it('passes a run with restarts and nothing wrong', () => {
    expect(soakPassed(clean)).toBe(true);
  });

  it.each([
    ['no restart at all', { restarts: 0 }],
    ['a duplicate', { duplicates: 1 }],
    ['a lost restart', { lost: 1 }],
    ['an early restart', { early: 1 }],
    ['an unannounced restart', { unexpected: 1 }],
    ['conflicting decisions', { client: { conflictingDecisions: 1, posting: { rejectedExits: 0 } } }],
    ['a refused exit', { client: { conflictingDecisions: 0, posting: { rejectedExits: 1 } } }],
  ])('fails a run with %s', (_case, change) => {
    expect(soakPassed({ ...clean, ...change } as Omit<SoakReport, 'passed'>)).toBe(false);
  });
});

describe('parseSoakArgs', () => {
  it('gives the documented defaults', () => {
    expect(parseSoakArgs([]).options).toEqual({ ...SOAK_DEFAULTS, json: false });
  });

  it('reads every flag', () => {
    const { options } = parseSoakArgs(
      ['--containers', '2000', '--duration', '2m', '--kill-every', '20s', '--json', '--initial-backoff', '50ms', '--max-backoff', '1s', '--sync-period', '500ms', '--run', '0', '--concurrency', '8', '--batch', '1', '--drain', '45s', '--data-dir', '/tmp/x'],
    );
    expect(options).toEqual({
      containers: 2000,
      durationMs: 120_000,
      killEveryMs: 20_000,
      json: true,
      initialBackoffMs: 50,
      maxBackoffMs: 1_000,
      syncPeriodMs: 500,
      runMs: 0,
      concurrency: 8,
      batch: 1,
      drainMs: 45_000,
      dataDir: '/tmp/x',
    });
  });

  it.each([
    [['--containers', '0'], '--containers'],
    [['--containers', 'many'], '--containers'],
    [['--duration', '10'], '--duration'],
    [['--kill-every', '50ms'], '--kill-every'],
    [['--batch', '101'], '--batch'],
    [['--endpoint', 'ftp://host'], '--endpoint'],
    [['--endpoint', 'http://127.0.0.1:4750', '--kill-every', '20s'], '--kill-every'],
    [['--token', 'secret'], '--token'],
    [['--initial-backoff', '2s', '--max-backoff', '1s'], '--initial-backoff'],
    [['--containres', '5'], '--containres'],
    [['--containers'], '--containers'],
    [['extra'], 'extra'],
  ])('refuses %j with a usage error naming %s', (argv, named) => {
    expect(() => parseSoakArgs(argv)).toThrow(UsageError);
    expect(() => parseSoakArgs(argv)).toThrow(named);
  });
});

/** Runs `npm run soak -- ARGS` as a user would (without npm's banner). */
function soak(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/soak/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    // 'close', not 'exit': by then stdout has been read to the end.
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

type Fault = 'duplicate' | 'lose' | 'early';

/**
 * A stand-in for the runtime that gets restarts wrong on purpose, so the whole
 * tool — not just its ledger — is shown to notice: every exit restarts 100 ms
 * later, and the restart is announced twice (`duplicate`), every third one
 * never (`lose`), or 60 ms before its instant (`early`).
 */
async function faultyRuntime(fault: Fault): Promise<{ url: string; close: () => Promise<void> }> {
  const counts = new Map<string, number>();
  const streams = new Set<ServerResponse>();
  let seq = 0;
  const announce = (restart: Record<string, unknown>) => {
    seq++;
    for (const stream of streams) stream.write(`id: ${seq}\nevent: restart\ndata: ${JSON.stringify(restart)}\n\n`);
  };
  const decide = (event: { namespace: string; pod: string; podUid?: string; container: string; finishedAt: number }) => {
    const key = containerKey(event);
    const restartCount = (counts.get(key) ?? 0) + 1;
    counts.set(key, restartCount);
    const restartAt = Math.max(Date.now(), event.finishedAt + 100);
    const restart = { restartId: `${key}#${restartCount}`, key, restartCount, restartAt: new Date(restartAt).toISOString(), recovered: false };
    const fire = (at: number) => setTimeout(() => announce({ ...restart, firedAt: new Date(Date.now()).toISOString() }), Math.max(0, at - Date.now()));
    if (fault === 'early') fire(restartAt - 60);
    else if (fault === 'duplicate') [0, 10].forEach((extra) => fire(restartAt + extra));
    else if (restartCount % 3 !== 0) fire(restartAt);
    return { key, decision: 'RestartScheduled', restartAt: restart.restartAt, delayMs: restartAt - event.finishedAt, restartCount, backoffMs: 100, state: 'CrashLoopBackOff', message: '' };
  };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith('/v1/restarts/stream')) {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(': fake\n\n');
      streams.add(response);
      response.on('close', () => streams.delete(response));
      return;
    }
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const json = body ? (JSON.parse(body) as { events?: unknown[] }) : {};
      const answer = request.url?.startsWith('/v1/exits')
        ? json.events
          ? { results: (json.events as Parameters<typeof decide>[0][]).map(decide) }
          : decide(json as Parameters<typeof decide>[0])
        : { items: [] };
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const stream of streams) stream.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('npm run soak', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it.each([
    ['duplicate', 'duplicates'],
    ['lose', 'lost'],
    ['early', 'early'],
  ] as const)('fails, with exit code 1, against a runtime that gets restarts wrong (%s): it counts them as %s', async (fault, counter) => {
    const runtime = await faultyRuntime(fault);
    cleanups.push(runtime.close);
    const { code, stdout } = await soak(['--endpoint', runtime.url, '--containers', '5', '--duration', '2s', '--drain', '500ms', '--json']);
    const report = JSON.parse(stdout) as SoakReport;
    expect(report[counter]).toBeGreaterThan(0);
    expect(report.passed).toBe(false);
    expect(code).toBe(1);
  });

  it('exits with code 2 and names the flag for a bad flag', async () => {
    const { code, stdout, stderr } = await soak(['--containers', '-3']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/--containers/);
  });

  it(
    'crash-loops 50 containers for 5 s through a kill -9 of the runtime: every restart once, none lost, none early',
    async () => {
      const { code, stdout, stderr } = await soak(['--containers', '50', '--duration', '5s', '--kill-every', '3s', '--json']);
      const report = JSON.parse(stdout) as SoakReport;
      const { exits, restarts, duplicates, lost, early, unexpected, kills, latenessP99Ms, eventsPerSec } = report;
      console.table([{ exits, restarts, duplicates, lost, early, unexpected, kills, latenessP99Ms, eventsPerSec, downtimeMs: report.downtimeMs }]);
      expect({ duplicates, lost, early, unexpected }, stderr).toEqual({ duplicates: 0, lost: 0, early: 0, unexpected: 0 });
      // A kill falls in [1.5 s, 4.5 s], so at least one lands inside the 5 s run.
      expect(kills).toBeGreaterThanOrEqual(1);
      expect(restarts).toBeGreaterThan(0);
      expect(restarts).toBe(exits);
      expect(report.passed).toBe(true);
      expect(code).toBe(0);
      // The runtime's durable restart log agrees with what the client received.
      expect(report.runtime).toMatchObject({ source: 'data-dir', restartLog: restarts, restartLogDuplicates: 0 });
    },
    90_000,
  );
});
