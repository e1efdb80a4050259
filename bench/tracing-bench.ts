/**
 * What OpenTelemetry tracing costs (issue 5): WebSocket publish ->
 * subscribe on one node, the same traffic with tracing off (no OTEL_*
 * variables: the SDK is not loaded), sampled at 1%
 * (parentbased_traceidratio 0.01; and 0, the SDK loaded but nothing
 * sampled, which parts the unsampled path from the sampled 1%) and on for every event
 * (parentbased_always_on), each exporting OTLP/HTTP protobuf to a sink in
 * this process that reads and discards what it gets. Reported as server
 * CPU µs per event beside the "off" row of the same run.
 *
 * The batch span processor is given room (queue 65,536, batches of 4,096,
 * every 200 ms) so that "on" pays for exporting its spans instead of
 * dropping them at the default 2,048-span queue; the sink's byte count is
 * in the details.
 */

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NamedBenchResult } from './bench-result.js';
import { type LoadResult, runLoad } from './load/driver.js';
import { freePort, startBenchNode } from './meshgate-load.js';
import type { AnchorOptions } from './nats-anchor.js';
import { compareVariants } from './variant-runs.js';

export interface TracingBenchOptions extends AnchorOptions {
  /** Runs of each variant. @default 2 */
  readonly rounds?: number;
}

/** An OTLP/HTTP endpoint that accepts everything and counts the bytes. */
async function startSink(): Promise<{ server: Server; url: string; bytes: () => number }> {
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.byteLength));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bytes: () => bytes };
}

async function run(opts: AnchorOptions, env: Record<string, string>): Promise<LoadResult> {
  const node = await startBenchNode('tracing', await freePort(), [], env);
  try {
    return await runLoad({ transport: 'meshgate-ws', publishUrl: node.wsUrl, subscribeUrls: [node.wsUrl], ...opts, serverPids: () => [node.child.pid!] });
  } finally {
    await node.stop();
  }
}

/** Four rows: off, 0% and 1% sampled, always on. */
export async function tracingBench(opts: TracingBenchOptions): Promise<NamedBenchResult[]> {
  const sink = await startSink();
  const traced = (sampler: string, arg?: string): Record<string, string> => ({
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: sampler,
    ...(arg === undefined ? {} : { OTEL_TRACES_SAMPLER_ARG: arg }),
    OTEL_BSP_MAX_QUEUE_SIZE: '65536',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096',
    OTEL_BSP_SCHEDULE_DELAY: '200',
  });
  try {
    const rows = await compareVariants(
      [
        { name: 'tracing off', run: () => run(opts, {}) },
        // The SDK loaded and every event decided, none sampled: what the unsampled path costs by itself.
        { name: 'sampled 0%', run: () => run(opts, traced('parentbased_traceidratio', '0')) },
        { name: 'sampled 1%', run: () => run(opts, traced('parentbased_traceidratio', '0.01')) },
        { name: 'always on', run: () => run(opts, traced('parentbased_always_on')) },
      ],
      opts.rounds ?? 2,
    );
    rows[0].details = { runs: rows[0].details, otlpBytesReceived: sink.bytes() };
    return rows;
  } finally {
    sink.server.close();
  }
}
