/**
 * The web console in a real browser: headless Chromium (the system's) driven
 * by playwright-core against an in-process local runtime.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RestartSchedulerClient, type RestartNotice } from '../../lib/client/client.ts';
import { resolveBackoffPolicy } from '../../lib/core/index.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { launchChromium, type LaunchedBrowser } from '../support/browser.ts';
import { documentedFetch } from '../support/openapi.ts';

/**
 * The fast policy of the walk-through: 1 s doubling to 2 s, so doubling and cap
 * show within seconds. It resets after 10m, not 2 × max (4 s), which a loaded
 * machine's round trip from a restart to the next exit could exceed.
 */
const POLICY = resolveBackoffPolicy({ initial: 1_000, max: 2_000, resetAfter: '10m' });
/** Deadlines for things that depend on the machine's speed: generous, never asserted as timings. */
const SLOW_MS = 20_000;

const keyOf = (pod: string, container = 'app', namespace = 'default') => `${pod}_${namespace}__${container}_`;
const row = (key: string) => `tr[data-key="${key}"]`;

describe('web console', () => {
  let runtime: LocalRuntime;
  let client: RestartSchedulerClient;
  let launched: LaunchedBrowser;
  let page: Page;
  let shots: string;
  const problems: string[] = [];
  const requested: string[] = [];

  /** Every page this test opens reports its errors and requests here. */
  function watch(target: Page): Page {
    target.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    target.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    target.on('request', (request) => requested.push(request.url()));
    return target;
  }

  let launchFailure: unknown;
  beforeAll(async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true, policy: POLICY, log: { warn: () => undefined, error: () => undefined } });
    client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
    try {
      launched = await launchChromium();
    } catch (error) {
      launchFailure = error;
      return;
    }
    page = watch(await launched.context.newPage());
    await page.setViewportSize({ width: 1280, height: 800 });
    shots = mkdtempSync(join(tmpdir(), 'restart-scheduler-console-'));
  });
  // Without a browser every test fails, saying how to install one: none is skipped.
  beforeEach(() => {
    if (launchFailure) throw launchFailure;
  });

  afterAll(async () => {
    await launched?.close();
    await runtime?.close();
    if (shots) rmSync(shots, { recursive: true, force: true });
  });

  async function open(hash = '#/'): Promise<void> {
    await page.goto(`${runtime.url}/${hash}`);
    await page.waitForSelector('#live[data-state="live"]', { timeout: SLOW_MS });
  }

  /** Tabs from the top of the page until `selector` has the focus; the number of presses, or -1. */
  async function tabTo(selector: string, maxPresses = 60): Promise<number> {
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    for (let press = 1; press <= maxPresses; press++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((wanted) => document.activeElement?.matches(wanted) ?? false, selector)) return press;
    }
    return -1;
  }

  /** Tabs through the whole page once; whether each control was focused on the way. */
  async function tabThroughEveryControl(): Promise<{ controls: string[]; missed: string[] }> {
    const controls = await page.evaluate(() => {
      const found = [...document.querySelectorAll<HTMLElement>('a[href], button, select, input, textarea, [tabindex]:not([tabindex="-1"])')].filter(
        (element) => !(element as HTMLButtonElement).disabled && element.getClientRects().length > 0 && !element.closest('dialog:not([open])'),
      );
      found.forEach((element, index) => (element.dataset['control'] = String(index)));
      return found.map((element) => `${element.tagName.toLowerCase()} "${(element.textContent ?? '').trim().slice(0, 40)}"`);
    });
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const reached = new Set<string>();
    for (let press = 0; press < controls.length + 5; press++) {
      await page.keyboard.press('Tab');
      const index = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset['control']);
      if (index !== undefined) reached.add(index);
    }
    return { controls, missed: controls.filter((_, index) => !reached.has(String(index))) };
  }

  it('loads with no console errors and shows the empty state', async () => {
    await open();
    expect(await page.textContent('main')).toContain('No containers yet');
    expect(await page.title()).toBe('restart-scheduler');
    expect(problems).toEqual([]);
  });

  it('shows a posted exit as a row and turns it CrashLoopBackOff as its records stream in, without a reload', async () => {
    await open();
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const key = keyOf('slow-0');
    // A long back-off of its own, so the container stays in CrashLoopBackOff while the test looks.
    const exit = { namespace: 'default', pod: 'slow-0', container: 'app', exitCode: 1, backoffPolicy: { initialBackoff: '1m', maxBackoff: '5m' } };
    expect((await client.postExit({ ...exit, finishedAt: Date.now() })).decision).toBe('RestartNow');
    // The POST has answered: its event records are already on the stream.
    let answeredAt = Date.now();
    await page.waitForSelector(row(key), { timeout: SLOW_MS });
    const rowShownMs = Date.now() - answeredAt;
    const second = await client.postExit({ ...exit, finishedAt: Date.now() });
    expect(second).toMatchObject({ decision: 'RestartScheduled', state: 'CrashLoopBackOff' });
    answeredAt = Date.now();
    await page.waitForSelector(`${row(key)}[data-state="CrashLoopBackOff"]`, { timeout: SLOW_MS });
    // Reported, not bounded (the bar is 1 s): how fast a browser renders depends on how busy the machine is.
    console.log(`console: row shown ${rowShownMs} ms and CrashLoopBackOff ${Date.now() - answeredAt} ms after the API answered`);
    expect(await page.textContent(`${row(key)} td[data-label="State"]`)).toBe('CrashLoopBackOff');
    // The countdown moves on its own.
    const countdown = `${row(key)} td[data-label="Next restart"]`;
    const first = await page.textContent(countdown);
    expect(first).toMatch(/^in \d+s$/);
    await page.waitForFunction(([selector, before]) => document.querySelector(selector!)?.textContent !== before, [countdown, first] as const, { timeout: SLOW_MS });
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
  });

  it('filters by namespace and state', async () => {
    await client.postExit({ namespace: 'batch', pod: 'job-0', container: 'worker', exitCode: 0, restartPolicy: 'OnFailure', finishedAt: Date.now() });
    await open();
    await page.waitForSelector(row(keyOf('job-0', 'worker', 'batch')), { timeout: SLOW_MS });
    await page.selectOption('#filter-namespace', 'batch');
    const keys = () => page.$$eval('tbody tr[data-key]', (rows) => rows.map((element) => (element as HTMLElement).dataset['key']));
    expect(await keys()).toEqual([keyOf('job-0', 'worker', 'batch')]);
    expect(await page.textContent(`${row(keyOf('job-0', 'worker', 'batch'))} td[data-label="State"]`)).toBe('Terminated (Completed)');
    await page.selectOption('#filter-namespace', '');
    await page.selectOption('#filter-state', 'CrashLoopBackOff');
    expect(await keys()).toEqual([keyOf('slow-0')]);
    // The filters are in the address, so a reload keeps them.
    expect(new URL(page.url()).hash).toBe('#/?state=CrashLoopBackOff');
    await page.reload();
    await page.waitForSelector(row(keyOf('slow-0')), { timeout: SLOW_MS });
    expect(await keys()).toEqual([keyOf('slow-0')]);
  });

  it('charts as many restarts as the restart stream delivered: 0, 1 s, 2 s, 2 s (the cap)', async () => {
    const key = keyOf('crasher-0');
    const restarts: RestartNotice[] = [];
    const abort = new AbortController();
    let connected!: () => void;
    const ready = new Promise<void>((resolve) => (connected = resolve));
    void client.streamRestarts((notice) => restarts.push(notice), { key, after: 0, signal: abort.signal, onConnect: () => connected() });
    await ready;
    const waitForRestart = async (count: number) => {
      const deadline = Date.now() + SLOW_MS;
      while (restarts.length < count) {
        if (Date.now() > deadline) throw new Error(`waited for restart ${count}, got ${restarts.length}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    // The container crashes as soon as each restart reaches it.
    const delays: number[] = [];
    for (let crash = 0; crash < 4; crash++) {
      const decision = await client.postExit({ namespace: 'default', pod: 'crasher-0', container: 'app', exitCode: crash === 2 ? 137 : 1, finishedAt: Date.now() });
      delays.push(decision.delayMs);
      await waitForRestart(crash + 1);
    }
    abort.abort();
    expect(delays).toEqual([0, 1_000, 2_000, 2_000]);

    await open();
    await page.waitForSelector(row(key), { timeout: SLOW_MS });
    await page.click(`${row(key)} a`);
    await page.waitForSelector(`[data-testid="timeline"][data-restarts="${restarts.length}"]`, { timeout: SLOW_MS });
    expect(await page.getAttribute('[data-testid="timeline"]', 'data-exits')).toBe('4');
    expect(await page.textContent('main')).toContain('4 exits, 4 restarts, longest back-off 2s');
    expect(await page.$$eval('tr[data-type="Restarted"]', (rows) => rows.length)).toBe(restarts.length);
    expect(await page.$('[data-testid="timeline"] canvas')).not.toBeNull();
    const shot = join(shots, 'console-timeline.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });

  it('reaches every control with the keyboard alone, on both pages', async () => {
    await open();
    await page.waitForSelector(row(keyOf('crasher-0')), { timeout: SLOW_MS });
    const list = await tabThroughEveryControl();
    expect(list.controls.length).toBeGreaterThanOrEqual(5);
    expect(list.missed).toEqual([]);
    // Enter on a row's link opens the container's page.
    expect(await tabTo(`${row(keyOf('crasher-0'))} a`)).toBeGreaterThan(0);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#reset:not([disabled])', { timeout: SLOW_MS });
    const detail = await tabThroughEveryControl();
    expect(detail.controls).toEqual(expect.arrayContaining([expect.stringContaining('Reset back-off')]));
    expect(detail.missed).toEqual([]);
    // Focus is visible: the focused control draws an outline.
    await tabTo('#reset');
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid');
  });

  it('resets the back-off behind a confirmation that the keyboard opens, cancels and confirms', async () => {
    const key = keyOf('crasher-0');
    await open(`#/containers/${encodeURIComponent(key)}`);
    await page.waitForSelector('#reset:not([disabled])', { timeout: SLOW_MS });
    expect(await tabTo('#reset')).toBeGreaterThan(0);
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]');
    // Focus starts on Cancel; Escape closes without resetting.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog:not([open])', { state: 'attached' });
    expect(await client.getContainer(key)).toBeDefined();

    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Reset back-off');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('.notice')?.textContent?.startsWith('Back-off reset'), undefined, { timeout: SLOW_MS });
    expect(await client.getContainer(key)).toBeUndefined();
    expect(await page.isDisabled('#reset')).toBe(true);
    // The list no longer shows it; the next exit restarts at once.
    await page.click('a[href="#/"]');
    await page.waitForSelector(row(keyOf('slow-0')), { timeout: SLOW_MS });
    expect(await page.$(row(key))).toBeNull();
    expect((await client.postExit({ namespace: 'default', pod: 'crasher-0', container: 'app', exitCode: 1, finishedAt: Date.now() })).decision).toBe('RestartNow');
  });

  it('is readable on a phone: no sideways scrolling, each container a card', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await open();
      await page.waitForSelector(row(keyOf('slow-0')), { timeout: SLOW_MS });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await page.evaluate(() => getComputedStyle(document.querySelector('.pods tr[data-key]')!).display)).toBe('block');
      await page.click(`${row(keyOf('slow-0'))} a`);
      await page.waitForSelector('[data-testid="timeline"] canvas', { timeout: SLOW_MS });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(shots, 'console-phone.png'), fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('asks once for the token of a runtime started with --token, and keeps it for the session', async () => {
    const guarded = await startLocalRuntime({ port: 0, inMemory: true, token: 's3cret', log: { warn: () => undefined, error: () => undefined } });
    try {
      await new RestartSchedulerClient({ fetch: documentedFetch, endpoint: guarded.url, token: 's3cret' }).postExit({ namespace: 'default', pod: 'guarded-0', container: 'app', exitCode: 1, finishedAt: Date.now() });
      const tab = watch(await launched.context.newPage());
      await tab.goto(`${guarded.url}/`);
      await tab.waitForSelector('#token');
      expect(await tab.evaluate(() => document.activeElement?.id)).toBe('token');
      await tab.keyboard.type('s3cret');
      await tab.keyboard.press('Enter');
      await tab.waitForSelector(row(keyOf('guarded-0')), { timeout: SLOW_MS });
      await tab.reload();
      await tab.waitForSelector(row(keyOf('guarded-0')), { timeout: SLOW_MS });
      expect(await tab.$('#token')).toBeNull();
      // The token travels in the Authorization header, never in an address.
      expect(requested.filter((url) => url.includes('s3cret'))).toEqual([]);
      await tab.close();
    } finally {
      await guarded.close();
    }
  });

  it('made every request to 127.0.0.1, and nothing logged an error', async () => {
    await page.screenshot({ path: join(shots, 'console.png') });
    expect(requested.length).toBeGreaterThan(10);
    expect(requested.filter((url) => new URL(url).hostname !== '127.0.0.1')).toEqual([]);
    expect(problems).toEqual([]);
  });
});
