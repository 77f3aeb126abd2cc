/**
 * The web console of the local runtime: containers like `kubectl get pods`,
 * live from the event record stream, and one container's timeline, events
 * and reset. It speaks to the runtime through the same client as the CLI.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { ContainerView } from '../api/views.ts';
import { ApiError, RestartSchedulerClient } from '../client/client.ts';
import { byName, statusCells } from '../client/format.ts';
import { formatDuration } from '../core/duration.ts';
import { CONTAINER_PHASES, type EventRecord } from '../core/model.ts';
import { timelineChart, type TimelineChart } from './chart.ts';
import { h, setText } from './dom.ts';
import { buildTimeline } from './timeline.ts';

const TOKEN_KEY = 'restart-scheduler.token';
/** Countdowns and "ago" columns move this often. */
const TICK_MS = 200;
/** The events table of a container shows the latest this many. */
const MAX_EVENT_ROWS = 200;

const main = document.getElementById('main')!;
const live = document.getElementById('live')!;
const authRequired = document.querySelector('meta[name="restart-scheduler-auth"]')?.getAttribute('content') === 'bearer';

let client: RestartSchedulerClient;
/** What the current page tears down when another one is shown. */
let leave: (() => void) | undefined;
const tickers = new Set<(now: number) => void>();

// ---------------------------------------------------------------------------
// Containers, kept current by the event record stream

const containers = new Map<string, ContainerView>();
const containerListeners = new Set<() => void>();
const refreshing = new Map<string, boolean>();

function changed(): void {
  for (const listener of containerListeners) listener();
}

function upsert(view: ContainerView): void {
  const known = containers.get(view.key);
  // A slower, older answer never overwrites a newer one.
  if (known && known.updatedAt > view.updatedAt) return;
  containers.set(view.key, view);
  changed();
}

function forget(key: string): void {
  if (containers.delete(key)) changed();
}

/** Re-reads one container; a record arriving meanwhile reads it once more afterwards. */
async function refresh(key: string): Promise<void> {
  if (refreshing.has(key)) {
    refreshing.set(key, true);
    return;
  }
  try {
    do {
      refreshing.set(key, false);
      const view = await client.getContainer(key);
      if (view) upsert(view);
      else forget(key);
    } while (refreshing.get(key));
  } catch (error) {
    showError(error);
  } finally {
    refreshing.delete(key);
  }
}

async function reloadContainers(): Promise<void> {
  const seen = new Set<string>();
  let cursor: string | undefined;
  try {
    do {
      const page = await client.listContainers(cursor ? { cursor } : {});
      for (const view of page.items) {
        seen.add(view.key);
        upsert(view);
      }
      cursor = page.cursor;
    } while (cursor);
    // Reset while the stream was away.
    for (const key of [...containers.keys()]) if (!seen.has(key)) containers.delete(key);
    loaded = true;
    changed();
  } catch (error) {
    showError(error);
  }
}
let loaded = false;

function onRecord(record: EventRecord): void {
  // A reset on request forgets the entry (a reset after a long run, which
  // comes with its exit, carries the new back-off).
  if (record.type === 'BackoffReset' && record.backoffMs === undefined) forget(record.key);
  else void refresh(record.key);
}

function followEvents(): void {
  void client
    .streamEvents(({ record }) => onRecord(record), {
      // Each (re)connection starts "from now": read the list again so nothing
      // that happened while away is missing.
      onConnect: () => {
        setLive('live');
        void reloadContainers();
      },
      onDisconnect: () => setLive('reconnecting'),
      retryMs: 1_000,
    })
    .catch(fatal);
}

// ---------------------------------------------------------------------------
// Shell: token, live indicator, errors, routing

function setLive(state: 'live' | 'reconnecting'): void {
  live.dataset['state'] = state;
  setText(live, state === 'live' ? 'live' : 'reconnecting…');
}

function showError(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) return fatal(error);
  const banner = document.getElementById('error') ?? main.insertAdjacentElement('beforebegin', h('div', { id: 'error', class: 'error', role: 'alert' }))!;
  setText(banner, error instanceof Error ? error.message : String(error));
}

function fatal(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken('The runtime refused that token. Enter the one it was started with (--token).');
    return;
  }
  showError(error);
}

function askForToken(problem?: string): void {
  leave?.();
  leave = undefined;
  setText(live, 'token required');
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const form = h(
    'form',
    { class: 'token', 'aria-labelledby': 'token-title' },
    h('h1', { id: 'token-title' }, 'Token required'),
    h('p', {}, 'This runtime was started with --token. The console keeps the token for this browser tab only.'),
    problem ? h('p', { class: 'error', role: 'alert' }, problem) : null,
    h('label', { for: 'token' }, 'Bearer token'),
    input,
    h('button', { type: 'submit' }, 'Connect'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value);
    start(input.value);
  });
  main.replaceChildren(form);
  input.focus();
}

function start(token: string | undefined): void {
  client = new RestartSchedulerClient({ endpoint: location.origin, ...(token ? { token } : {}) });
  followEvents();
  route();
}

function route(): void {
  leave?.();
  document.getElementById('error')?.remove();
  const { path, query } = parseHash();
  const key = /^\/containers\/(.+)$/.exec(path)?.[1];
  leave = key === undefined ? containersPage(query) : containerPage(decodeURIComponent(key));
}

function parseHash(): { path: string; query: URLSearchParams } {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = hash.split('?');
  return { path, query: new URLSearchParams(search) };
}

function containerHref(key: string): string {
  return `#/containers/${encodeURIComponent(key)}`;
}

function stateBadge(view: Pick<ContainerView, 'state' | 'reason'>): HTMLElement {
  const text = view.state === 'Terminated' && view.reason ? `Terminated (${view.reason})` : view.state;
  return h('span', { class: `state state-${view.state.toLowerCase()}` }, text);
}

// ---------------------------------------------------------------------------
// The containers page

const COLUMNS = [
  ['namespace', 'Namespace'],
  ['pod', 'Pod'],
  ['container', 'Container'],
  ['state', 'State'],
  ['restarts', 'Restarts'],
  ['lastExit', 'Last exit'],
  ['backoff', 'Back-off'],
  ['nextRestart', 'Next restart'],
  ['age', 'Age'],
] as const;
type Column = (typeof COLUMNS)[number][0];

function containersPage(query: URLSearchParams): () => void {
  const filters = { namespace: query.get('namespace') ?? '', state: query.get('state') ?? '' };
  const namespaceSelect = h('select', { id: 'filter-namespace' }, h('option', { value: '' }, 'All namespaces'));
  const stateSelect = h(
    'select',
    { id: 'filter-state' },
    h('option', { value: '' }, 'All states'),
    ...CONTAINER_PHASES.map((phase) => h('option', { value: phase }, phase)),
  );
  stateSelect.value = filters.state;
  const summary = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' });
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'pods' },
    h('caption', { class: 'visually-hidden' }, 'Containers, like kubectl get pods'),
    h('thead', {}, h('tr', {}, ...COLUMNS.map(([, title]) => h('th', { scope: 'col' }, title)))),
    body,
  );
  const empty = h('div', { class: 'empty' });
  main.replaceChildren(
    h('h1', {}, 'Containers'),
    h(
      'div',
      { class: 'filters', role: 'search', 'aria-label': 'Filter containers' },
      h('span', { class: 'filter' }, h('label', { for: 'filter-namespace' }, 'Namespace'), namespaceSelect),
      h('span', { class: 'filter' }, h('label', { for: 'filter-state' }, 'State'), stateSelect),
    ),
    summary,
    h('div', { class: 'table-wrap' }, table),
    empty,
  );

  const onFilter = () => {
    filters.namespace = namespaceSelect.value;
    filters.state = stateSelect.value;
    const params = new URLSearchParams(Object.entries(filters).filter(([, value]) => value !== ''));
    // replaceState, not a hash change: the page stays as it is, focus included.
    history.replaceState(null, '', `#/${params.size ? `?${params}` : ''}`);
    render();
  };
  namespaceSelect.addEventListener('change', onFilter);
  stateSelect.addEventListener('change', onFilter);

  const rows = new Map<string, { tr: HTMLTableRowElement; cells: Record<Column, HTMLTableCellElement>; view: ContainerView }>();
  const rowFor = (view: ContainerView) => {
    let row = rows.get(view.key);
    if (!row) {
      const cells = Object.fromEntries(COLUMNS.map(([column, title]) => [column, h('td', { 'data-label': title })])) as Record<Column, HTMLTableCellElement>;
      const tr = h('tr', { 'data-key': view.key }, ...COLUMNS.map(([column]) => cells[column]));
      cells.namespace.textContent = view.namespace;
      cells.pod.textContent = view.pod;
      cells.container.append(h('a', { href: containerHref(view.key), 'aria-label': `${view.container} in pod ${view.pod}, namespace ${view.namespace}` }, view.container));
      row = { tr, cells, view };
      rows.set(view.key, row);
    }
    row.view = view;
    return row;
  };
  const fill = (row: NonNullable<ReturnType<typeof rows.get>>, now: number) => {
    const cells = statusCells(row.view, now);
    if (row.tr.dataset['state'] !== row.view.state || row.cells.state.textContent !== cells.state) {
      row.tr.dataset['state'] = row.view.state;
      row.cells.state.replaceChildren(stateBadge(row.view));
    }
    setText(row.cells.restarts, cells.restarts);
    setText(row.cells.lastExit, cells.lastExit);
    setText(row.cells.backoff, cells.backoff);
    setText(row.cells.nextRestart, cells.nextRestart);
    setText(row.cells.age, cells.age);
  };

  function render(): void {
    const now = Date.now();
    const all = [...containers.values()].sort(byName);
    const namespaces = [...new Set(all.map((view) => view.namespace))].sort();
    if (filters.namespace && !namespaces.includes(filters.namespace)) namespaces.push(filters.namespace);
    const shownNamespaces = [...namespaceSelect.options].slice(1).map((option) => option.value);
    if (shownNamespaces.join('\n') !== namespaces.join('\n')) {
      namespaceSelect.replaceChildren(namespaceSelect.options[0]!, ...namespaces.map((namespace) => h('option', { value: namespace }, namespace)));
    }
    namespaceSelect.value = filters.namespace;
    const visible = all.filter((view) => (!filters.namespace || view.namespace === filters.namespace) && (!filters.state || view.state === filters.state));
    // Rows are moved only when out of place, so a focused link keeps its focus.
    let previous: Element | null = null;
    for (const view of visible) {
      const row = rowFor(view);
      fill(row, now);
      const expected: Element | null = previous ? previous.nextElementSibling : body.firstElementChild;
      if (expected !== row.tr) body.insertBefore(row.tr, expected);
      previous = row.tr;
    }
    const keep = new Set(visible.map((view) => view.key));
    for (const [key, row] of rows) {
      if (keep.has(key)) continue;
      row.tr.remove();
      if (!containers.has(key)) rows.delete(key);
    }
    const counts = CONTAINER_PHASES.map((phase) => `${all.filter((view) => view.state === phase).length} ${phase}`);
    setText(summary, loaded ? `${all.length} container${all.length === 1 ? '' : 's'}: ${counts.join(' · ')}${visible.length !== all.length ? ` — ${visible.length} shown` : ''}` : 'Loading…');
    table.hidden = visible.length === 0;
    empty.hidden = !loaded || visible.length > 0;
    // No containers at all: how to report one; some, but none shown: say so.
    const emptyKind = all.length === 0 ? 'none' : 'filtered';
    if (!empty.hidden && empty.dataset['kind'] !== emptyKind) {
      empty.dataset['kind'] = emptyKind;
      empty.replaceChildren(...(emptyKind === 'none' ? emptyHelp() : [h('p', {}, 'No container matches these filters.')]));
    }
  }

  const tick = (now: number) => {
    for (const row of rows.values()) if (row.tr.isConnected) fill(row, now);
  };
  containerListeners.add(render);
  tickers.add(tick);
  render();
  return () => {
    containerListeners.delete(render);
    tickers.delete(tick);
  };
}

function emptyHelp(): Node[] {
  const example = `curl -s -X POST ${location.origin}/v1/exits -H 'content-type: application/json' \\\n  -d '{"namespace":"default","pod":"web-0","container":"app","exitCode":1,"finishedAt":'$(date +%s000)'}'`;
  return [h('p', {}, 'No containers yet. Report an exit and it shows up here at once:'), h('pre', {}, h('code', {}, example))];
}

// ---------------------------------------------------------------------------
// One container's page

function containerPage(key: string): () => void {
  const abort = new AbortController();
  const records: EventRecord[] = [];
  const heading = h('h1', {}, key);
  const facts = h('dl', { class: 'facts' });
  const status = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  const resetButton = h('button', { type: 'button', class: 'danger', id: 'reset' }, 'Reset back-off…');
  const chartBox = h('div', { class: 'chart', 'data-testid': 'timeline', role: 'img' });
  const chartSummary = h('p', { class: 'summary' });
  const eventsBody = h('tbody');
  const eventsTable = h(
    'table',
    { class: 'events' },
    h('caption', { class: 'visually-hidden' }, 'Event records, newest first'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Message'))),
    eventsBody,
  );
  const dialog = confirmDialog(key, async () => {
    try {
      const reset = await client.resetContainer(key);
      forget(key);
      view = undefined;
      renderFacts();
      setText(status, reset ? 'Back-off reset: the entry was forgotten, so the next exit restarts at once.' : 'There was no back-off entry to reset.');
    } catch (error) {
      showError(error);
    }
  });
  resetButton.addEventListener('click', () => dialog.showModal());

  main.replaceChildren(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, '← Containers')),
    heading,
    facts,
    h('div', { class: 'actions' }, resetButton),
    status,
    h('section', { 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), chartSummary, chartBox, chartLegend()),
    h('section', { 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Events'), h('div', { class: 'table-wrap' }, eventsTable)),
    dialog,
  );

  let view: ContainerView | undefined = containers.get(key);
  let lookedUp = false;
  function renderFacts(now = Date.now()): void {
    if (!view) {
      facts.replaceChildren(h('dt', {}, 'State'), h('dd', {}, lookedUp ? 'No back-off entry (never seen, or reset)' : 'Loading…'));
      resetButton.disabled = true;
      return;
    }
    resetButton.disabled = false;
    setText(heading, `${view.container} in ${view.pod}`);
    const cells = statusCells(view, now);
    const entries: [string, Node | string][] = [
      ['State', stateBadge(view)],
      ['Namespace', view.namespace],
      ['Pod', view.podUid ? `${view.pod} (uid ${view.podUid})` : view.pod],
      ['Restarts', cells.restarts],
      ['Last exit', cells.lastExit],
      ['Back-off', cells.backoff],
      ['Next restart', cells.nextRestart],
      ['Message', view.message ?? '-'],
      ['Key', h('code', {}, view.key)],
    ];
    const existing = facts.querySelectorAll('dd');
    if (existing.length === entries.length && facts.dataset['state'] === view.state) {
      // Only the text moves: the countdown ticks without rebuilding the list.
      entries.forEach(([, value], index) => {
        if (typeof value === 'string') setText(existing[index]!, value);
      });
      return;
    }
    facts.dataset['state'] = view.state;
    facts.replaceChildren(...entries.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
  }

  let chart: TimelineChart | undefined;
  let drawPending = false;
  function drawTimeline(): void {
    drawPending = false;
    const timeline = buildTimeline(records);
    chartBox.dataset['exits'] = String(timeline.exits);
    chartBox.dataset['restarts'] = String(timeline.restarts);
    const text = `${timeline.exits} exit${timeline.exits === 1 ? '' : 's'}, ${timeline.restarts} restart${timeline.restarts === 1 ? '' : 's'}, longest back-off ${formatDuration(timeline.longestWaitMs)}`;
    setText(chartSummary, text);
    chartBox.setAttribute('aria-label', `Timeline chart: ${text}. The events table below lists the same.`);
    if (chart) chart.update(timeline);
    else chart = timelineChart(chartBox, timeline);
  }

  const onContainers = () => {
    const next = containers.get(key);
    if (next) view = next;
    renderFacts();
  };
  containerListeners.add(onContainers);
  tickers.add(renderFacts);
  renderFacts();
  drawTimeline();
  client
    .getContainer(key)
    .then((found) => {
      lookedUp = true;
      if (found) upsert(found);
      view = found ?? view;
      renderFacts();
    })
    .catch(showError);

  // From the start of the log: the whole history, then live.
  void client
    .streamEvents(
      ({ record }) => {
        records.push(record);
        eventsBody.prepend(
          h('tr', { 'data-type': record.type }, h('td', {}, new Date(record.time).toLocaleTimeString()), h('td', {}, record.type), h('td', {}, record.message)),
        );
        while (eventsBody.rows.length > MAX_EVENT_ROWS) eventsBody.lastElementChild?.remove();
        if (!drawPending) {
          drawPending = true;
          requestAnimationFrame(drawTimeline);
        }
      },
      { key, after: 0, signal: abort.signal, retryMs: 1_000 },
    )
    .catch(fatal);

  return () => {
    abort.abort();
    containerListeners.delete(onContainers);
    tickers.delete(renderFacts);
    chart?.destroy();
  };
}

function chartLegend(): HTMLElement {
  const item = (kind: string, text: string) => h('li', {}, h('span', { class: `swatch swatch-${kind}`, 'aria-hidden': 'true' }), text);
  return h(
    'ul',
    { class: 'legend' },
    item('exit', 'exit (its code above it)'),
    item('wait', 'back-off wait, in seconds'),
    item('restart', 'restart dispatched'),
  );
}

/** "Reset back-off" asks first: a native modal dialog, so focus moves into it and Escape cancels. */
function confirmDialog(key: string, onConfirm: () => Promise<void>): HTMLDialogElement {
  const cancel = h('button', { type: 'button', autofocus: true }, 'Cancel');
  const confirm = h('button', { type: 'button', class: 'danger' }, 'Reset back-off');
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
    h('h2', { id: 'confirm-title' }, 'Reset back-off?'),
    h('p', { id: 'confirm-text' }, 'The runtime forgets this container’s back-off (kubelet’s Reset): its next exit restarts at once, and its restart count starts again. Its events stay. ', h('code', {}, key)),
    h('div', { class: 'actions' }, cancel, confirm),
  );
  cancel.addEventListener('click', () => dialog.close());
  confirm.addEventListener('click', () => {
    dialog.close();
    void onConfirm();
  });
  return dialog;
}

// ---------------------------------------------------------------------------

window.addEventListener('hashchange', route);
setInterval(() => {
  const now = Date.now();
  for (const tick of tickers) tick(now);
}, TICK_MS);

const saved = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
if (authRequired && !saved) askForToken();
else start(saved);
