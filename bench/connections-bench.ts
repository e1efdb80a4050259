/**
 * Many connections (issue 17, item 5): N idle connections to one server,
 * then the same N each subscribed to a topic of its own, and a publisher
 * sending events that each reach exactly one of them; meshgate (/v1/ws,
 * CBOR) beside nats-server with the same connections in the same run.
 * Reported per target: server RSS per idle and per subscribed connection
 * (VmRSS from /proc before and after), and the server CPU per event of
 * the one-publish-one-receiver phase.
 *
 * The N client connections are raw TCP sockets in this process speaking
 * just enough of each protocol (a WebSocket upgrade and frames; NATS
 * CONNECT/SUB/PING), answering the servers' pings: N `ws` or nats.js
 * clients would measure the client libraries, not the servers.
 *
 * File descriptors: N sockets here and N in the server. N defaults to
 * 10,000 (MESHGATE_BENCH_CONNECTIONS), which the soft `ulimit -n` must
 * allow with room (checked first: the run uses fewer connections and says
 * so rather than failing half-way). Everything binds 127.0.0.1; the
 * connections are closed and each server stopped at the end.
 */

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Encoder } from 'cbor-x';
import { startNatsServer } from '../test/helpers/brokers.js';
import type { NamedBenchResult } from './bench-result.js';
import { cpuDelta, processCpu } from './cpu.js';
import { loadTransport } from './load/transports.js';
import { freePort, startBenchNode } from './meshgate-load.js';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });
/** Connections opened at once while connecting (bounds the SYN and upgrade backlog). */
const CONNECT_CONCURRENCY = 200;
/** Longest any phase may take. */
const PHASE_MS = 60_000;

export interface ConnectionsBenchOptions {
  /** @default MESHGATE_BENCH_CONNECTIONS or 10,000, capped by the fd limit */
  readonly connections?: number;
  /** Events in the publish phase, each to one connection's topic. @default 20,000 */
  readonly events?: number;
  readonly payloadBytes?: number;
}

/** The soft open-files limit of this process (children inherit it). */
function fdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s+/)[3];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) * 1024;
}

/** One client connection: raw socket plus a per-protocol reader. */
interface Client {
  readonly socket: Socket;
  /** Events received so far. */
  received: number;
  /** Resolves on the next reply (`ok` / PONG). */
  reply(): Promise<void>;
  subscribe(topic: string): void;
}

interface Protocol {
  open(port: number): Promise<Client>;
}

/** Masks and frames one client-to-server WebSocket message. */
function wsFrame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  const head = n < 126 ? 2 : 4;
  const out = Buffer.allocUnsafe(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  }
  // A zero mask: allowed (the key need only be unpredictable to a browser's scripts), and the payload stays as it is.
  out.writeUInt32BE(0, head);
  out.set(payload, head + 4);
  return out;
}

const meshgateProtocol: Protocol = {
  async open(port) {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    socket.write(
      `GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: meshgate.v1.cbor\r\n\r\n',
    );
    let buffered: Buffer = Buffer.alloc(0);
    let upgraded = false;
    const waiting: Array<() => void> = [];
    const client: Client = {
      socket,
      received: 0,
      reply: () => new Promise<void>((resolve) => waiting.push(resolve)),
      subscribe(topic) {
        socket.write(wsFrame(2, cbor.encode({ op: 'sub', filter: topic, ref: 1 })));
      },
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.byteLength === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buffered.subarray(0, 12).toString('latin1').includes('101')) socket.destroy(new Error(`upgrade refused: ${buffered.subarray(0, end)}`));
        upgraded = true;
        buffered = buffered.subarray(end + 4);
      }
      // Server frames are unmasked: 2-byte head, 16- or 64-bit length.
      for (;;) {
        if (buffered.byteLength < 2) return;
        const opcode = buffered[0] & 0x0f;
        let n = buffered[1] & 0x7f;
        let at = 2;
        if (n === 126) {
          if (buffered.byteLength < 4) return;
          n = buffered.readUInt16BE(2);
          at = 4;
        } else if (n === 127) {
          if (buffered.byteLength < 10) return;
          n = Number(buffered.readBigUInt64BE(2));
          at = 10;
        }
        if (buffered.byteLength < at + n) return;
        const payload = buffered.subarray(at, at + n);
        buffered = buffered.subarray(at + n);
        if (opcode === 9) socket.write(wsFrame(10, payload));
        else if (opcode === 2) {
          const frame = cbor.decode(payload) as { op: string; events?: unknown[] };
          if (frame.op === 'events') client.received += frame.events?.length ?? 0;
          else if (frame.op === 'ok' || frame.op === 'hello') waiting.shift()?.();
          else if (frame.op === 'err') socket.destroy(new Error(`meshgate: ${JSON.stringify(frame)}`));
        }
      }
    });
    await client.reply(); // hello
    return client;
  },
};

const natsProtocol: Protocol = {
  async open(port) {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    let buffered = '';
    let need = -1; // bytes of a MSG payload (and its CRLF) still to skip
    const waiting: Array<() => void> = [];
    const client: Client = {
      socket,
      received: 0,
      reply: () => new Promise<void>((resolve) => waiting.push(resolve)),
      subscribe(topic) {
        socket.write(`SUB ${topic} 1\r\nPING\r\n`);
      },
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (;;) {
        if (need >= 0) {
          if (buffered.length < need) return;
          buffered = buffered.slice(need);
          need = -1;
          client.received++;
        }
        const end = buffered.indexOf('\r\n');
        if (end < 0) return;
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (line.startsWith('MSG ')) need = Number(line.slice(line.lastIndexOf(' ') + 1)) + 2;
        else if (line === 'PING') socket.write('PONG\r\n');
        else if (line === 'PONG') waiting.shift()?.();
        else if (line.startsWith('-ERR')) socket.destroy(new Error(`nats: ${line}`));
      }
    });
    socket.write('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n');
    await client.reply();
    return client;
  },
};

async function bounded<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`connections bench: ${what} took over ${PHASE_MS / 1000} s`)), PHASE_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface TargetRun {
  readonly idleRssPerConnection: number;
  readonly subscribedRssPerConnection: number;
  readonly cpuUsPerEvent: number;
  readonly eventsPerSec: number;
  readonly lost: number;
}

/** Opens `n` connections, subscribes each to its own topic, publishes `events` events round the topics. */
async function measure(
  protocol: Protocol,
  port: number,
  pid: number,
  publishUrl: string,
  transport: string,
  n: number,
  events: number,
  payloadBytes: number,
): Promise<TargetRun> {
  const clients: Client[] = [];
  try {
    const rss0 = rssBytes(pid);
    await bounded(
      `opening ${n} connections`,
      (async () => {
        for (let i = 0; i < n; i += CONNECT_CONCURRENCY) {
          const batch = await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, n - i) }, () => protocol.open(port)));
          clients.push(...batch);
        }
      })(),
    );
    const rssIdle = rssBytes(pid);
    await bounded(
      `subscribing ${n} connections`,
      (async () => {
        for (let i = 0; i < n; i += CONNECT_CONCURRENCY) {
          const batch = clients.slice(i, i + CONNECT_CONCURRENCY);
          await Promise.all(
            batch.map((c, j) => {
              const replied = c.reply();
              c.subscribe(`bench.conn.${i + j}`);
              return replied;
            }),
          );
        }
      })(),
    );
    const rssSubscribed = rssBytes(pid);

    const publisher = (await loadTransport(transport))({ clientId: 'bench-conn-pub' });
    await publisher.connect(publishUrl);
    try {
      const payload = new Uint8Array(payloadBytes).fill(0x2e);
      const cpu0 = processCpu(pid);
      const t0 = performance.now();
      for (let i = 0; i < events; i++) {
        const r = publisher.publish(`bench.conn.${i % n}`, payload, i);
        if (r) await r;
        if (i % 1000 === 999) await publisher.flush();
      }
      await publisher.flush();
      const deadline = Date.now() + PHASE_MS;
      let received = 0;
      for (;;) {
        received = clients.reduce((sum, c) => sum + c.received, 0);
        if (received >= events || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuDelta(cpu0, processCpu(pid)).totalUs;
      return {
        idleRssPerConnection: (rssIdle - rss0) / n,
        subscribedRssPerConnection: (rssSubscribed - rss0) / n,
        cpuUsPerEvent: cpu / Math.max(1, received),
        eventsPerSec: received / seconds,
        lost: events - received,
      };
    } finally {
      await publisher.close();
    }
  } finally {
    for (const c of clients) c.socket.destroy();
  }
}

/** Two rows: nats-server, then meshgate with its ratios to nats-server. */
export async function connectionsBench(opts: ConnectionsBenchOptions = {}): Promise<NamedBenchResult[]> {
  const wanted = opts.connections ?? Number(process.env.MESHGATE_BENCH_CONNECTIONS ?? 10_000);
  // This process holds one socket per connection; the server as many; 500 spare for everything else.
  const n = Math.max(1, Math.min(wanted, fdLimit() - 500));
  if (n < wanted) process.stderr.write(`[bench] connections: ulimit -n ${fdLimit()} allows ${n} of ${wanted} connections; raise it to run them all\n`);
  const events = opts.events ?? 20_000;
  const payloadBytes = opts.payloadBytes ?? 256;

  const nats = await startNatsServer();
  let natsRun: TargetRun;
  try {
    natsRun = await measure(natsProtocol, nats.port, nats.pid, nats.url, 'nats', n, events, payloadBytes);
  } finally {
    await nats.stop();
  }
  // The node admits every connection from 127.0.0.1 (limits.maxConnectionsPerIp, 0 = no limit, is set
  // explicitly so a changed default cannot cut the run short).
  const port = await freePort();
  const node = await startBenchNode('conns', port, [], {}, { limits: { maxConnectionsPerIp: n + 100 } });
  let meshRun: TargetRun;
  try {
    meshRun = await measure(meshgateProtocol, port, node.child.pid!, node.wsUrl, 'meshgate-ws', n, events, payloadBytes);
  } finally {
    await node.stop();
  }
  const row = (name: string, r: TargetRun): NamedBenchResult => ({
    name: `${name}, ${n.toLocaleString('en-US')} conns (${Math.round(r.idleRssPerConnection / 1024)} KiB idle / ${Math.round(r.subscribedRssPerConnection / 1024)} KiB subscribed per conn)`,
    eventsPerSec: r.eventsPerSec,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    serverCpuUsPerEvent: r.cpuUsPerEvent,
    lost: r.lost,
    details: { connections: n, events, payloadBytes, ...r },
  });
  const natsRow = row('nats', natsRun);
  const meshRow = row('meshgate', meshRun);
  meshRow.vsAnchor = { name: 'nats', eventsRatio: meshRun.eventsPerSec / natsRun.eventsPerSec, cpuRatio: meshRun.cpuUsPerEvent / natsRun.cpuUsPerEvent };
  return [natsRow, meshRow];
}
