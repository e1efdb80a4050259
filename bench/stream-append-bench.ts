/**
 * Stream store append cost and replay rate (not run by tests; `npm run
 * bench` runs it as the 'streams' scenario through streamStoreBench()).
 *   node dist/bench/stream-append-bench.js [events]
 * Prints JSON: CPU µs per appended event (user+system, including the
 * commits) for lmdb 'group' and 'sync' and memory, and entries/s read back
 * in pages of 500. The jetstream row runs on a nats-server -js started here
 * (at most 20k events; its replay fetches from the server once the cache of
 * 10k recent entries is passed), beside its anchor: a plain JetStream
 * publisher awaiting every PubAck in the same batches of 500.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from 'nats';
import { JetStreamStreamStore, LmdbStreamStore, MemoryStreamStore, type StreamStore } from '../broker/streams/mod.js';
import { startNatsServer } from '../test/helpers/brokers.js';

const payload = new Uint8Array(256).fill(7);

async function run(name: string, store: StreamStore, n: number) {
  await store.create({ name: 's' });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    store.append('s', payload, { time: Date.now(), topic: 'db.orders.insert' });
    if (i % 500 === 499) await store.flushed(); // one loop turn per 500 events, as a busy node would
  }
  await store.flushed();
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const r0 = performance.now();
  let after = 0;
  let read = 0;
  for (;;) {
    let r = store.read('s', after, 500);
    if (r.ok && r.entries.length === 0 && after < r.last) {
      await store.readable('s', after, 500); // a caching engine (jetstream) fetches the page
      r = store.read('s', after, 500);
    }
    if (!r.ok || r.entries.length === 0) break;
    read += r.entries.length;
    after = r.entries.at(-1)!.offset;
  }
  const replayMs = performance.now() - r0;
  await store.close();
  return {
    engine: name,
    events: n,
    appendCpuUsPerEvent: +((cpu.user + cpu.system) / n).toFixed(2),
    appendWallMs: Math.round(wallMs),
    replayed: read,
    replayPerSec: Math.round(read / (replayMs / 1000)),
  };
}

/** The anchor: what JetStream itself costs a publisher that waits for every ack. */
async function jetStreamAnchor(url: string, n: number) {
  const nc = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'anchor', subjects: ['anchor'] });
  const js = nc.jetstream();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let acks: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    acks.push(js.publish('anchor', payload));
    if (i % 500 === 499) {
      await Promise.all(acks);
      acks = [];
    }
  }
  await Promise.all(acks);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  await nc.close();
  return {
    engine: 'jetstream anchor (js.publish + PubAck)',
    events: n,
    appendCpuUsPerEvent: +((cpu.user + cpu.system) / n).toFixed(2),
    appendWallMs: Math.round(wallMs),
  };
}

/** One row per engine, from a child process (its own heap and CPU readings). */
export interface StreamStoreRow {
  engine: string;
  events: number;
  appendCpuUsPerEvent: number;
  appendWallMs: number;
  replayed?: number;
  replayPerSec?: number;
}

export function streamStoreBench(events = 50_000): StreamStoreRow[] {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(events)], { encoding: 'utf8', timeout: 180_000 });
  return (JSON.parse(out) as { results: StreamStoreRow[] }).results;
}

async function main(events: number): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-stream-bench-'));
  try {
    const results: Record<string, unknown>[] = [
      await run('memory', new MemoryStreamStore(), events),
      await run("lmdb 'group'", LmdbStreamStore.open({ dir: path.join(base, 'group') }), events),
      await run("lmdb 'sync'", LmdbStreamStore.open({ dir: path.join(base, 'sync'), durability: 'sync' }), Math.min(events, 2_000)),
    ];
    const nats = await startNatsServer({ jetstream: true });
    try {
      const n = Math.min(events, 20_000);
      results.push(await run('jetstream', await JetStreamStreamStore.open({ servers: nats.url, storeId: 'bench' }), n));
      results.push(await jetStreamAnchor(nats.url, n));
    } finally {
      await nats.stop();
    }
    process.stdout.write(JSON.stringify({ payloadBytes: payload.length, results }, null, 2) + '\n');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(Number(process.argv[2] ?? 50_000));
