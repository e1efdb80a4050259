/**
 * Stream store append cost and replay rate (not run by tests).
 *   node dist/bench/stream-append-bench.js [events]
 * Prints JSON: CPU µs per appended event (user+system, including the
 * commits) for lmdb 'group' and 'sync' and memory, and entries/s read back
 * in pages of 500.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LmdbStreamStore, MemoryStreamStore, type StreamStore } from '../broker/streams/mod.js';

const events = Number(process.argv[2] ?? 50_000);
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
    const r = store.read('s', after, 500);
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

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-stream-bench-'));
try {
  const results = [
    await run('memory', new MemoryStreamStore(), events),
    await run("lmdb 'group'", LmdbStreamStore.open({ dir: path.join(base, 'group') }), events),
    await run("lmdb 'sync'", LmdbStreamStore.open({ dir: path.join(base, 'sync'), durability: 'sync' }), Math.min(events, 2_000)),
  ];
  process.stdout.write(JSON.stringify({ payloadBytes: payload.length, results }, null, 2) + '\n');
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}
