/**
 * The node's per-event cost with no network: one process decodes
 * `pubs` frames as the CBOR WebSocket endpoint does, runs every event
 * through MeshNode.ingest (topic and size checks, attribute checks, dedup
 * at the default 1M-entry window, provenance, routing) and encodes each
 * delivery for one CBOR subscriber, batching 128 per frame.
 *
 * What this isolates: the end-to-end scenarios share 2 cores with their
 * load generators, so their figures mix the node's cost with the clients'.
 * This is the node's part alone, the floor under the `meshgate 1→1` row's
 * server CPU (which adds uWS, syscalls and the event loop).
 *
 * Frames are encoded before timing; the dedup window is filled past its
 * bound first, so every timed check also evicts (a busy node's steady state).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Encoder } from 'cbor-x';
import { DEFAULTS } from '../broker/config/internal.js';
import type { MeshEvent } from '../broker/event/mod.js';
import { CBOR_OPTIONS } from '../broker/event/mod.js';
import { MeshNode } from '../broker/pipeline/mod.js';
import { CBOR_CODEC } from '../broker/ws/internal.js';

export interface PipelineBenchResult {
  name: string;
  events: number;
  cpuUsPerEvent: number;
  eventsPerSec: number;
}

const PER_FRAME = 128;
const PAYLOAD_BYTES = 256;

function measure(): PipelineBenchResult[] {
  const cbor = new Encoder({ ...CBOR_OPTIONS });
  const node = new MeshNode({
    nodeId: 'bench',
    region: 'bench',
    topicLimits: DEFAULTS.limits.topic,
    maxEventBytes: DEFAULTS.limits.maxEventBytes,
    dedup: DEFAULTS.dedup,
  });
  let pending: Uint8Array[] = [];
  let delivered = 0;
  const subscriber = {
    format: CBOR_CODEC.events,
    deliver(item: Uint8Array, _event: MeshEvent) {
      pending.push(item);
      delivered++;
      if (pending.length === PER_FRAME) {
        CBOR_CODEC.events.batch!(pending, 0, PER_FRAME);
        pending = [];
      }
    },
  };
  node.subscribe('bench.>', subscriber);
  const data = Buffer.alloc(PAYLOAD_BYTES, 0x2e);
  const source = 'bench-publisher-pipeline';
  let seq = 0;
  const frame = (): ArrayBuffer => {
    const items = Array.from({ length: PER_FRAME }, () => ({
      topic: 'bench.load',
      event: { specversion: '1.0', id: String(seq++), source, type: 'bench', data },
    }));
    const bytes = cbor.encode({ op: 'pubs', items });
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  };
  const run = (frames: ArrayBuffer[]) => {
    for (const f of frames) {
      const decoded = CBOR_CODEC.decode(f);
      if (!decoded.ok || decoded.request.op !== 'pubs') throw new Error('pipeline bench: frame not decoded as pubs');
      for (const item of decoded.request.items) if (item.ok) node.ingest(item.event, 'ws');
    }
  };
  const warmFrames = Math.ceil((DEFAULTS.dedup.maxEntries * 1.2) / PER_FRAME);
  for (let i = 0; i < warmFrames; i += 500) run(Array.from({ length: Math.min(500, warmFrames - i) }, frame));
  const timedFrames = Array.from({ length: Math.ceil(1_000_000 / PER_FRAME) }, frame);
  delivered = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  run(timedFrames);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const events = timedFrames.length * PER_FRAME;
  if (delivered !== events) throw new Error(`pipeline bench: ${delivered} of ${events} delivered`);
  return [
    {
      name: `ws CBOR decode -> ingest -> encode, ${PAYLOAD_BYTES} B, dedup at 1M`,
      events,
      cpuUsPerEvent: (cpu.user + cpu.system) / events,
      eventsPerSec: events / seconds,
    },
  ];
}

export async function pipelineBench(): Promise<PipelineBenchResult[]> {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child'], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out) as PipelineBenchResult[];
}

if (process.argv.includes('--child')) process.stdout.write(JSON.stringify(measure()));
