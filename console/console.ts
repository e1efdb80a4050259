/**
 * The mesh console: one page every node serves at /console. It runs in
 * the browser only (compiled to dist/console/console.js, served at
 * /v1/console/console.js) and talks to the node it came from:
 *
 *   - the WebSocket client protocol through the client library:
 *       `_mg.sys.mesh.<node>` the node's view of the mesh, once a second:
 *                             nodes, regions, links (state, rtt, event
 *                             counters -> rates), local filters and bridges
 *                             (broker/mesh-view-publisher.ts; GET /v1/mesh
 *                             once at load, so the picture is there at once)
 *       `>`                   topic rates (optional, see the checkbox)
 *       `_mg.deadletter.>`    dead letters (the dead-letter topic of issue 5)
 *   - each node's streams (offsets, events, bytes, consumers and their
 *     lag), from the same mesh view
 *       the user's filter     live tail
 *
 * Test hooks: window.meshConsole exposes the client and the last mesh view.
 */
import { type MeshEvent, MeshgateClient, type MeshgateError } from '../client/mod.js';

interface MeshNodeView {
  id: string;
  region: string | null;
  url: string | null;
  reachable: boolean;
  self: boolean;
  local: string[];
  bridges: Array<Record<string, unknown>>;
  /** /v1/streams rows of that node (older nodes: absent). */
  streams?: MeshStreamView[];
}
interface MeshStreamView {
  name: string;
  first: number;
  last: number;
  events: number;
  bytes: number;
  config?: { filters?: string[] };
  /** Durable consumers, where the node reports them. */
  consumers?: Array<{ name: string; lag?: number; active?: boolean }>;
}
interface MeshLinkView {
  a: string;
  b: string;
  state: 'up' | 'down';
  rttMs: number | null;
  events: number | null;
  inferred?: boolean;
}
interface MeshView {
  node: string;
  region: string;
  at: number;
  nodes: MeshNodeView[];
  links: MeshLinkView[];
}

/** Dead-letter filter: issue 5's dead-letter topic lives under `_mg.deadletter.`. */
export const DEADLETTER_FILTER = '_mg.deadletter.>';
const RATE_WINDOW_MS = 5000;
const TAIL_MAX = 100;
const DEADLETTER_MAX = 50;

const $ = <T extends Element = HTMLElement>(sel: string): T => document.querySelector(sel) as T;

function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function colourOf(region: string | null): string {
  const s = region ?? '?';
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360} 70% 60%)`;
}

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? undefined;
const client = new MeshgateClient({ url: wsUrl, token, source: 'meshgate-console', backoffMaxMs: 2000 });

// ------------------------------------------------------------ connection badge
const conn = $('#conn');
client.on('state', (state) => {
  conn.dataset.state = state;
  conn.textContent = state;
});
client.on('open', (hello) => {
  $('#identity').textContent = `node ${hello.node} · region ${hello.region} · v${hello.version}`;
});
client.on('error', (err) => console.warn(`[meshgate] ${err.code}: ${err.message}`));

// ------------------------------------------------------------ mesh picture
let lastView: MeshView | null = null;
const prevCounters = new Map<string, { events: number; at: number }>();
const linkRates = new Map<string, number>();

function onView(view: MeshView): void {
  for (const l of view.links) {
    const key = `${l.a}|${l.b}`;
    if (l.events === null) continue;
    const prev = prevCounters.get(key);
    if (prev !== undefined && view.at > prev.at) linkRates.set(key, Math.max(0, ((l.events - prev.events) * 1000) / (view.at - prev.at)));
    prevCounters.set(key, { events: l.events, at: view.at });
  }
  lastView = view;
  render(view);
}

/** The first picture comes from GET /v1/mesh; every later one over the WebSocket. */
async function firstView(): Promise<void> {
  try {
    onView((await (await fetch('/v1/mesh', { cache: 'no-store' })).json()) as MeshView);
  } catch (err) {
    $('#mesh-summary').textContent = `cannot read /v1/mesh: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function render(view: MeshView): void {
  renderMesh(view);
  const upLinks = view.links.filter((l) => l.state === 'up').length;
  $('#mesh-summary').textContent = `${view.nodes.length} nodes · ${view.links.length} links (${upLinks} up) · as seen from ${view.node}`;
  $('#subs tbody').innerHTML =
    view.nodes
      .map((n) => `<tr><td>${esc(n.id)}</td><td class="mono">${n.local.length ? n.local.map(esc).join('<br>') : '<span class="empty">none</span>'}</td></tr>`)
      .join('') || '<tr><td colspan="2" class="empty">none</td></tr>';
  const bridgeRows = view.nodes.flatMap((n) =>
    n.bridges.map((b) => {
      const state = String(b.state ?? 'unknown');
      return `<tr><td>${esc(n.id)}</td><td>${esc(b.type ?? b.name)}</td><td class="state-${state === 'up' || state === 'connected' ? 'up' : 'down'}">${esc(state)}</td><td class="mono">${esc(b.url ?? b.name ?? '')}</td></tr>`;
    }),
  );
  $('#bridges tbody').innerHTML = bridgeRows.join('') || '<tr><td colspan="4" class="empty">no bridges configured</td></tr>';
  const streamRows = view.nodes.flatMap((n) =>
    (n.streams ?? []).map((st) => {
      const consumers = (st.consumers ?? []).map((c) => `${esc(c.name)} (lag ${esc(c.lag ?? '?')}${c.active === false ? ', idle' : ''})`);
      return (
        `<tr data-stream="${esc(n.id)}/${esc(st.name)}"><td>${esc(n.id)}</td><td>${esc(st.name)}</td>` +
        `<td class="mono">${(st.config?.filters ?? []).map(esc).join('<br>')}</td><td class="num">${esc(st.events)}</td>` +
        `<td class="num">${esc(st.first)}–${esc(st.last)}</td><td class="num">${esc(st.bytes)}</td>` +
        `<td>${consumers.join('<br>') || '<span class="empty">none</span>'}</td></tr>`
      );
    }),
  );
  $('#streams tbody').innerHTML = streamRows.join('') || '<tr><td colspan="7" class="empty">no streams</td></tr>';
}

function nodeState(n: MeshNodeView, view: MeshView): 'up' | 'down' {
  if (n.self) return 'up';
  const links = view.links.filter((l) => l.a === n.id || l.b === n.id);
  return links.some((l) => l.state === 'up') ? 'up' : n.reachable && links.length === 0 ? 'up' : 'down';
}

function renderMesh(view: MeshView): void {
  const W = 640;
  const H = 380;
  const nodes = [...view.nodes].sort((x, y) => (x.region ?? '').localeCompare(y.region ?? '') || x.id.localeCompare(y.id));
  const pos = new Map<string, { x: number; y: number }>();
  const r = nodes.length <= 1 ? 0 : Math.min(W, H) / 2 - 60;
  nodes.forEach((n, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, nodes.length);
    pos.set(n.id, { x: W / 2 + r * Math.cos(a), y: H / 2 + r * Math.sin(a) });
  });
  const parts: string[] = [];
  for (const l of view.links) {
    const p = pos.get(l.a);
    const q = pos.get(l.b);
    if (!p || !q) continue;
    const rate = linkRates.get(`${l.a}|${l.b}`);
    const label = [
      rate !== undefined && l.state === 'up' ? `${rate.toFixed(1)} ev/s` : l.state === 'down' ? 'down' : '',
      l.rttMs !== null && l.state === 'up' ? `${l.rttMs.toFixed(1)} ms` : '',
    ]
      .filter(Boolean)
      .join(' · ');
    parts.push(
      `<line class="link${l.inferred ? ' inferred' : ''}" data-link="${esc(l.a)}|${esc(l.b)}" data-state="${l.state}" x1="${p.x}" y1="${p.y}" x2="${q.x}" y2="${q.y}"><title>${esc(l.a)} ↔ ${esc(l.b)}: ${l.state}</title></line>`,
      `<text class="link-label" x="${(p.x + q.x) / 2}" y="${(p.y + q.y) / 2 - 6}">${esc(label)}</text>`,
    );
  }
  for (const n of nodes) {
    const p = pos.get(n.id)!;
    const state = nodeState(n, view);
    parts.push(
      `<g class="node${n.self ? ' self' : ''}" data-node="${esc(n.id)}" data-state="${state}" transform="translate(${p.x},${p.y})">` +
        `<circle r="34" stroke="${colourOf(n.region)}"></circle>` +
        `<text y="2">${esc(n.id)}</text><text class="region" y="16">${esc(n.region ?? '?')}</text>` +
        `<title>${esc(n.id)} (${esc(n.region ?? 'unknown region')})${n.self ? ' — this node' : ''}: ${state}${n.url ? ` ${esc(n.url)}` : ''}</title></g>`,
    );
  }
  $('#mesh').innerHTML = parts.join('');
}

// ------------------------------------------------------------ topic rates
const arrivals = new Map<string, { times: number[]; total: number }>();
let ratesSub: Promise<unknown> | null = null;

function countEvent(e: MeshEvent): void {
  // The mesh's own _mg. traffic (mesh views, dead letters) is not user traffic.
  if (e.topic.startsWith('_mg.')) return;
  let a = arrivals.get(e.topic);
  if (a === undefined) arrivals.set(e.topic, (a = { times: [], total: 0 }));
  a.times.push(Date.now());
  a.total++;
}

function renderRates(): void {
  const now = Date.now();
  const rows: Array<[string, number, number]> = [];
  for (const [topic, a] of arrivals) {
    while (a.times.length > 0 && a.times[0] < now - RATE_WINDOW_MS) a.times.shift();
    rows.push([topic, a.times.length / (RATE_WINDOW_MS / 1000), a.total]);
  }
  rows.sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
  $('#rates tbody').innerHTML =
    rows
      .slice(0, 30)
      .map(([t, r, n]) => `<tr data-topic="${esc(t)}"><td class="mono">${esc(t)}</td><td class="num">${r.toFixed(1)}</td><td class="num">${n}</td></tr>`)
      .join('') || '<tr><td colspan="3" class="empty">no events yet</td></tr>';
}

function setRates(on: boolean): void {
  if (on && ratesSub === null) ratesSub = client.subscribe('>', countEvent).catch(showError);
  else if (!on && ratesSub !== null) {
    ratesSub = null;
    void client.unsubscribe('>', countEvent);
  }
}

// ------------------------------------------------------------ dead letters
const deadLetters: MeshEvent[] = [];

function reasonOf(e: MeshEvent): string {
  try {
    const d = e.json<Record<string, unknown>>();
    if (d && typeof d === 'object') {
      // docs/protocol.md "Dead letters": reasons is [{path, message}].
      if (Array.isArray(d.reasons)) {
        return d.reasons
          .map(
            (r: { path?: unknown; message?: unknown }) =>
              `${r.path === undefined || r.path === '' ? '' : `${String(r.path)}: `}${String(r.message ?? JSON.stringify(r))}`,
          )
          .join('; ');
      }
      const r = d.reason ?? d.error ?? d.message;
      if (r !== undefined) return typeof r === 'string' ? r : JSON.stringify(r);
    }
  } catch {
    /* not JSON: fall through */
  }
  const ext = e.extensions;
  return String(ext.mgreason ?? ext.reason ?? e.subject ?? e.text().slice(0, 200));
}

function renderDeadLetters(): void {
  $('#deadletters tbody').innerHTML =
    deadLetters
      .map(
        (d) =>
          `<tr data-topic="${esc(d.topic)}"><td class="mono">${esc(new Date(d.time ?? Date.now()).toLocaleTimeString())}</td><td class="mono">${esc(d.topic)}</td><td>${esc(reasonOf(d))}</td></tr>`,
      )
      .join('') || '<tr><td colspan="3" class="empty">none received since this page opened</td></tr>';
}

function onDeadLetter(e: MeshEvent): void {
  deadLetters.unshift(e);
  deadLetters.length = Math.min(deadLetters.length, DEADLETTER_MAX);
  renderDeadLetters();
}

// ------------------------------------------------------------ live tail
let tailFilter: string | null = null;
const tailList = $('#tail');
const tailStatus = $('#tail-status');

function onTail(e: MeshEvent): void {
  // A wide filter (`>`) also matches the mesh's own _mg. traffic; show it only when asked for by name.
  if (e.topic.startsWith('_mg.') && !(tailFilter ?? '').startsWith('_mg.')) return;
  const li = document.createElement('li');
  li.dataset.topic = e.topic;
  let preview: string;
  try {
    preview = e.text();
  } catch {
    preview = `${e.data.byteLength} bytes`;
  }
  const via = e.hops.map((h) => h.node).join('→');
  li.innerHTML = `<span class="t">${esc(new Date().toLocaleTimeString())}</span> <span class="topic">${esc(e.topic)}</span> <span class="type">${esc(e.type)}</span> <span class="via">${esc(via)}</span> ${esc(preview.slice(0, 300))}`;
  tailList.prepend(li);
  while (tailList.childElementCount > TAIL_MAX) tailList.lastElementChild!.remove();
}

function showError(err: unknown): void {
  const e = err as MeshgateError;
  tailStatus.className = 'error';
  tailStatus.dataset.code = e.code ?? '';
  tailStatus.textContent = `${e.code ?? 'error'}: ${e.message}`;
}

async function tail(filter: string | null): Promise<void> {
  if (tailFilter !== null) await client.unsubscribe(tailFilter, onTail).catch(() => undefined);
  tailFilter = null;
  tailStatus.className = '';
  tailStatus.dataset.code = '';
  if (filter === null || filter === '') {
    tailStatus.textContent = 'stopped';
    return;
  }
  tailStatus.textContent = `subscribing to ${filter}…`;
  try {
    await client.subscribe(filter, onTail);
    tailFilter = filter;
    tailList.innerHTML = '';
    tailStatus.textContent = `tailing ${filter}`;
  } catch (err) {
    showError(err);
  }
}

$<HTMLFormElement>('#tail-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void tail($<HTMLInputElement>('#tail-filter').value.trim());
});
$('#tail-stop').addEventListener('click', () => void tail(null));
$<HTMLInputElement>('#rates-on').addEventListener('change', (ev) => setRates((ev.target as HTMLInputElement).checked));

// ------------------------------------------------------------ start
(window as unknown as { meshConsole: unknown }).meshConsole = {
  client,
  get view() {
    return lastView;
  },
};
client.connect().catch(showError);
client.subscribe(DEADLETTER_FILTER, onDeadLetter).catch(showError);
setRates(params.get('rates') !== '0');
if (params.get('rates') === '0') $<HTMLInputElement>('#rates-on').checked = false;
if (params.get('tail')) {
  $<HTMLInputElement>('#tail-filter').value = params.get('tail')!;
  void tail(params.get('tail'));
}
setInterval(renderRates, 1000);
renderRates();
renderDeadLetters();
void firstView()
  .then(async () => {
    const hello = await client.connect();
    await client.subscribe(`_mg.sys.mesh.${hello.node}`, (e) => onView(e.json<MeshView>()));
  })
  .catch(showError);
