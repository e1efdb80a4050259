/**
 * The HTTP binding beside WebSocket (issue 16, Bench), one node process
 * (`meshgate start`), one run each:
 *
 *   deliveries   one WebSocket publisher; a /v1/ws subscriber and a
 *                /v1/sse/ reader on the same filter in the same burst
 *                (one row each: deliveries/s from the first send to its
 *                own last event), then a stream-fed SSE reader replaying
 *                the burst from a stream (?from=first, the resume path)
 *   publishing   accepted events/s: POST /v1/events/ binary mode, one
 *                event a request (16 in flight, keep-alive); batched mode,
 *                100 a request; WebSocket `pub` with acks (window 1000)
 *
 * Server CPU is the node process's per delivered (or accepted) event.
 * Every loop is bounded by its count and by TIMEOUT_MS.
 */
import http from 'node:http';
import WebSocket from 'ws';
import type { NamedBenchResult } from './bench-result.js';
import { cpuDelta, processCpu } from './cpu.js';
import { type BenchNode, freePort, startBenchNode } from './meshgate-load.js';

const DELIVERY_EVENTS = 50_000;
const POST_EVENTS = 10_000;
const BATCH_EVENTS = 50_000;
const BATCH = 100;
const WS_PUB_EVENTS = 50_000;
const TIMEOUT_MS = 30_000;
const DATA = JSON.stringify('x'.repeat(256));

const event = (i: number) => `{"specversion":"1.0","id":"b${i}","source":"bench","type":"bench.event","data":${DATA}}`;

async function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, 'meshgate.v1.json');
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return ws;
}

/** Resolves with the frame answering `ref`. */
function request(ws: WebSocket, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  const ref = `r${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve) => {
    const on = (raw: Buffer) => {
      const f = JSON.parse(raw.toString()) as Record<string, unknown>;
      if (f.ref === ref) {
        ws.off('message', on);
        resolve(f);
      }
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ ...frame, ref }));
  });
}

/** Counts events arriving on a /v1/ws subscription; `done` resolves at `n` with the time of the last. */
async function wsCounter(url: string, filter: string, n: number): Promise<{ done: Promise<number>; close: () => void }> {
  const ws = await openWs(url);
  await request(ws, { op: 'sub', filter });
  let count = 0;
  const done = new Promise<number>((resolve) => {
    ws.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString()) as { op: string; events?: unknown[] };
      count += f.op === 'events' ? f.events!.length : f.op === 'event' ? 1 : 0;
      if (count >= n) resolve(performance.now());
    });
  });
  return { done, close: () => ws.terminate() };
}

/** Counts `data:` lines (one per event: the JSON has no line breaks) on an SSE response. */
function sseCounter(url: string, n: number): Promise<{ done: Promise<number>; close: () => void }> {
  return new Promise((open, fail) => {
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) return fail(new Error(`SSE ${url}: ${res.statusCode}`));
      res.setEncoding('utf8');
      let count = 0;
      let partial = '';
      const done = new Promise<number>((resolve) => {
        res.on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop()!;
          for (const l of lines) if (l.startsWith('data: ')) count++;
          if (count >= n) resolve(performance.now());
        });
      });
      res.on('error', () => undefined);
      open({ done, close: () => req.destroy() });
    });
    req.on('error', fail);
  });
}

/** Publishes `n` events over WebSocket with acks, at most `window` unacked; resolves when all are acked. */
function wsPublish(ws: WebSocket, topic: string, n: number, window = 1000): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    const pump = () => {
      while (sent < n && sent - acked < window) {
        ws.send(`{"op":"pub","ref":"${sent}","topic":"${topic}","event":${event(sent)}}`);
        sent++;
      }
    };
    const on = (raw: Buffer) => {
      if (raw.includes('"op":"ok"') || raw.includes('"op":"err"')) acked++;
      if (acked >= n) {
        ws.off('message', on);
        resolve();
      } else pump();
    };
    ws.on('message', on);
    pump();
  });
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`bench: ${what} timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    }),
  ]);
}

function row(name: string, events: number, ms: number, cpuUs: number, details: Record<string, unknown> = {}): NamedBenchResult {
  return {
    name,
    eventsPerSec: Math.round(events / (ms / 1000)),
    p50Ms: NaN,
    p99Ms: NaN,
    serverCpuUsPerEvent: cpuUs / events,
    lost: 0,
    details: { events, ms: Math.round(ms), ...details },
  };
}

async function deliveries(node: BenchNode, base: string): Promise<NamedBenchResult[]> {
  const pid = node.child.pid!;
  const ws = await wsCounter(node.wsUrl, 'bench.live.>', DELIVERY_EVENTS);
  const sse = await sseCounter(`${base}/v1/sse/${encodeURIComponent('bench.live.>')}`, DELIVERY_EVENTS);
  const pub = await openWs(node.wsUrl);
  try {
    const cpu0 = processCpu(pid);
    const t0 = performance.now();
    await withTimeout(wsPublish(pub, 'bench.live.x', DELIVERY_EVENTS), 'live publish');
    const [wsEnd, sseEnd] = await withTimeout(Promise.all([ws.done, sse.done]), 'live deliveries');
    const cpuUs = cpuDelta(cpu0, processCpu(pid)).totalUs / 2; // two deliveries per event
    // The stored copy: the same burst on the stream's topic, then a stream-fed SSE reader replaying it.
    await withTimeout(wsPublish(pub, 'bench.sse.x', DELIVERY_EVENTS), 'stream publish');
    const cpu1 = processCpu(pid);
    const t1 = performance.now();
    const replay = await sseCounter(`${base}/v1/sse/${encodeURIComponent('bench.sse.>')}?from=first`, DELIVERY_EVENTS);
    const replayEnd = await withTimeout(replay.done, 'SSE replay');
    replay.close();
    const replayCpu = cpuDelta(cpu1, processCpu(pid)).totalUs;
    return [
      row('deliveries: WebSocket sub', DELIVERY_EVENTS, wsEnd - t0, cpuUs, { note: 'same burst as the SSE row; CPU split evenly' }),
      row('deliveries: SSE live', DELIVERY_EVENTS, sseEnd - t0, cpuUs, { note: 'same burst as the WebSocket row' }),
      row('deliveries: SSE from a stream (replay)', DELIVERY_EVENTS, replayEnd - t1, replayCpu),
    ];
  } finally {
    ws.close();
    sse.close();
    pub.terminate();
  }
}

/** POST /v1/events/ binary mode, one event a request, `inFlight` at once. */
async function postSingle(base: string, n: number, inFlight = 16): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  let next = 0;
  const post = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const body = DATA;
      const req = http.request(
        `${base}/v1/events/bench.post.x`,
        {
          method: 'POST',
          agent,
          headers: { 'ce-specversion': '1.0', 'ce-id': `p${i}`, 'ce-source': 'bench', 'ce-type': 'bench.event', 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`POST: ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const worker = async () => {
    while (next < n) await post(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  agent.destroy();
}

async function postBatched(base: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += BATCH) {
    const items = Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => event(i + k + 1_000_000));
    const r = await fetch(`${base}/v1/events/bench.post.x`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: `[${items.join(',')}]`,
    });
    if (r.status !== 202) throw new Error(`batched POST: ${r.status}`);
    await r.body?.cancel();
  }
}

async function publishing(node: BenchNode, base: string): Promise<NamedBenchResult[]> {
  const pid = node.child.pid!;
  const timed = async (what: string, n: number, run: () => Promise<void>) => {
    const cpu0 = processCpu(pid);
    const t0 = performance.now();
    await withTimeout(run(), what);
    return row(what, n, performance.now() - t0, cpuDelta(cpu0, processCpu(pid)).totalUs);
  };
  const pub = await openWs(node.wsUrl);
  try {
    return [
      await timed('publish: HTTP POST, 1 event/request', POST_EVENTS, () => postSingle(base, POST_EVENTS)),
      await timed(`publish: HTTP POST batched, ${BATCH}/request`, BATCH_EVENTS, () => postBatched(base, BATCH_EVENTS)),
      await timed('publish: WebSocket pub with acks', WS_PUB_EVENTS, () => wsPublish(pub, 'bench.post.x', WS_PUB_EVENTS)),
    ];
  } finally {
    pub.terminate();
  }
}

export async function httpBench(): Promise<NamedBenchResult[]> {
  const port = await freePort();
  const node = await startBenchNode(
    'http',
    port,
    [],
    {},
    {
      storage: { engine: 'memory' },
      streams: [{ name: 'bench', filters: ['bench.sse.>'] }],
      // A burst outruns one reader for a while: measure its rate, not the slow-consumer limit.
      limits: { maxBufferedBytes: 256 * 1024 * 1024 },
    },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    return [...(await deliveries(node, base)), ...(await publishing(node, base))];
  } finally {
    await node.stop();
  }
}
