/**
 * `npm run screenshot`: the README's pictures of the web console,
 * docs/img/console.png (the containers) and docs/img/console-timeline.png
 * (one container's crash loop), taken in headless Chromium against an
 * in-memory local runtime that a few containers crash in.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RestartSchedulerClient, type ExitEventInput, type RestartNotice } from '../lib/client/client.ts';
import { resolveBackoffPolicy } from '../lib/core/index.ts';
import { buildConsoleAssets } from '../lib/local/console.ts';
import { startLocalRuntime } from '../lib/local/runtime.ts';
import { launchChromium } from '../test/support/browser.ts';

const OUT_DIR = fileURLToPath(new URL('../docs/img/', import.meta.url));

const runtime = await startLocalRuntime({ port: 0, inMemory: true, policy: resolveBackoffPolicy({ initial: 1_000, max: 8_000 }) });
const client = new RestartSchedulerClient({ endpoint: runtime.url });
const browser = await launchChromium();
try {
  const exit = (fields: Partial<ExitEventInput> & Pick<ExitEventInput, 'pod' | 'container'>) =>
    client.postExit({ namespace: 'default', exitCode: 1, finishedAt: Date.now(), ...fields });
  await exit({ pod: 'web-0', container: 'app', podUid: '4f1c2a9e', exitCode: 0 });
  await exit({ pod: 'web-1', container: 'app', podUid: '8b02d7c1', exitCode: 143, reason: 'SIGTERM' });
  await exit({ namespace: 'batch', pod: 'report-1', container: 'job', restartPolicy: 'OnFailure', exitCode: 0 });
  await exit({ namespace: 'batch', pod: 'etl-3', container: 'loader', maxRestarts: 0, exitCode: 2 });

  // api-0 crashes the moment each restart reaches it: 0, 1 s, 2 s, 4 s, 8 s, then waits 8 s again.
  const restarts: RestartNotice[] = [];
  const abort = new AbortController();
  void client.streamRestarts((notice) => restarts.push(notice), { key: 'api-0_default_c93e51b0_server_', after: 0, signal: abort.signal });
  for (let crash = 0; crash < 6; crash++) {
    await exit({ pod: 'api-0', podUid: 'c93e51b0', container: 'server', exitCode: crash % 3 === 2 ? 137 : 1, ...(crash % 3 === 2 ? { reason: 'OOMKilled' } : {}) });
    if (crash === 5) break;
    while (restarts.length < crash + 1) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  abort.abort();

  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${runtime.url}/`);
  await page.waitForSelector('tr[data-state="CrashLoopBackOff"]');
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  mkdirSync(OUT_DIR, { recursive: true });
  await page.screenshot({ path: `${OUT_DIR}console.png` });

  await page.setViewportSize({ width: 1280, height: 980 });
  await page.click('tr[data-key="api-0_default_c93e51b0_server_"] a');
  await page.waitForSelector('[data-testid="timeline"][data-exits="6"]');
  await new Promise((resolve) => setTimeout(resolve, 500));
  await page.screenshot({ path: `${OUT_DIR}console-timeline.png` });

  const assets = await buildConsoleAssets({ authRequired: false });
  console.log(`wrote ${OUT_DIR}console.png and console-timeline.png; the console is ${(assets.gzippedBytes / 1024).toFixed(1)} KB gzipped`);
} finally {
  await browser.close();
  await runtime.close();
}
