import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import type { NodeProcess } from './mesh.js';
import { ce, type FrameClient } from './node.js';

/** Opens a JSON-protocol client socket, closed after the test. */
export async function openJsonSocket(t: TestContext, url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, 'meshgate.v1.json');
  t.after(() => ws.terminate());
  await new Promise((r) => ws.once('open', r));
  return ws;
}

/**
 * Publishes `e0, e1, ...` to `topic` keeping at most 20 unacked (at most
 * 5,000 sent), until `stopAt` are acked; resolves with the acked refs at
 * that moment, so a test can kill the node right after and know exactly
 * which events the node promised to keep.
 */
export function publishUntilAcked(ws: WebSocket, stopAt: number, topic = 'orders.x'): Promise<Set<string>> {
  const acked = new Set<string>();
  let sent = 0;
  return new Promise((resolve) => {
    const pump = () => {
      while (sent - acked.size < 20 && sent < 5000) {
        ws.send(JSON.stringify({ op: 'pub', ref: `e${sent}`, topic, event: ce(`e${sent}`) }));
        sent++;
      }
    };
    ws.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString()) as { op: string; ref?: string };
      if (f.op === 'ok' && f.ref !== undefined) acked.add(f.ref);
      if (acked.size >= stopAt) {
        ws.removeAllListeners('message');
        resolve(new Set(acked));
      } else pump();
    });
    pump();
  });
}

interface EntriesPage {
  entries: Array<{ offset: number; id: string }>;
}

/** Every stored event id of `stream` on `node`, the offsets in store order, and the id at each offset, read page by page over HTTP. */
export async function storedIds(node: NodeProcess, stream: string): Promise<{ ids: Set<string>; offsets: number[]; idAt: Map<number, string> }> {
  const ids = new Set<string>();
  const offsets: number[] = [];
  const idAt = new Map<number, string>();
  for (let after = 0; ; ) {
    const page = await node.json<EntriesPage>(`/v1/streams/${stream}/entries?after=${after}&limit=1000`);
    for (const e of page.entries) {
      ids.add(e.id);
      offsets.push(e.offset);
      idAt.set(e.offset, e.id);
    }
    if (page.entries.length === 0) return { ids, offsets, idAt };
    after = page.entries.at(-1)!.offset;
  }
}

/** Publishes `total` events of 4 KiB text on `orders.a` (ids e0, e1, ...) in acked batches of 100: a backlog far bigger than a socket's buffers. */
export async function publishBigEvents(pub: FrameClient, total: number): Promise<void> {
  const big = 'x'.repeat(4096);
  for (let b = 0; b < total / 100; b++) {
    const items = Array.from({ length: 100 }, (_, k) => ({ topic: 'orders.a', event: ce(`e${b * 100 + k}`, { datacontenttype: 'text/plain', data: big }) }));
    const reply = await pub.request({ op: 'pubs', items });
    if (reply.op !== 'ok') throw new Error(`pubs refused: ${JSON.stringify(reply)}`);
  }
}

/**
 * Polls `read` every 10 ms (at most 5 s) until it gives the same value
 * above 0 five times in a row; resolves with that value, or null when it
 * never settled. For state only visible by asking (a metric, an HTTP row).
 */
export async function settledValue(read: () => number | Promise<number>): Promise<number | null> {
  let stable = 0;
  let before = -1;
  for (let i = 0; i < 500 && stable < 5; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const now = (await read()) ?? 0;
    stable = now > 0 && now === before ? stable + 1 : 0;
    before = now;
  }
  return stable >= 5 ? before : null;
}

/**
 * Counts `sub`'s events with its TCP socket paused, so everything the node
 * sends it piles up on the node's side. finish() resumes the socket and
 * resolves once all `total` events arrived; it fails when the node closed
 * the connection first (a slow-consumer close).
 */
export function pausedReader(sub: FrameClient, total: number): { finish(): Promise<void> } {
  let n = 0;
  let all: (() => void) | null = null;
  sub.onEvent = () => {
    if (++n === total) all?.();
  };
  const tcp = (sub.socket as unknown as { _socket: import('node:net').Socket })._socket;
  tcp.pause();
  return {
    async finish() {
      tcp.resume();
      const done = new Promise<void>((resolve) => (all = resolve));
      const outcome = await Promise.race([n >= total ? Promise.resolve() : done, sub.closed]);
      if (outcome !== undefined) throw new Error(`closed after ${n} of ${total} events: ${JSON.stringify(outcome)}`);
    },
  };
}
