/**
 * What schema validation at ingress costs (issue 5): WebSocket publish ->
 * subscribe on one node, the same traffic (valid database change events,
 * bench/load/transport-meshgate-ws-change.ts) with no schema bound and
 * with the shipped db-change-event schema bound to the topic, in the same
 * run. Reported as server CPU µs per event for each, the difference and
 * the ratio.
 *
 * Each variant runs on a fresh node process, alternating (see
 * variant-runs.ts); figures are means over the rounds.
 */
import WebSocket from 'ws';
import { shippedSchema } from '../schemas/mod.js';
import type { NamedBenchResult } from './bench-result.js';
import { type LoadResult, runLoad } from './load/driver.js';
import { type BenchNode, freePort, startBenchNode } from './meshgate-load.js';
import type { AnchorOptions } from './nats-anchor.js';
import { compareVariants } from './variant-runs.js';

export interface ValidationBenchOptions extends AnchorOptions {
  /** Runs of each variant. @default 2 */
  readonly rounds?: number;
}

const TOPIC = 'bench.load';

/** Binds the shipped schema to the bench topic over the registry's HTTP API, as an operator would. */
async function bindSchema(node: BenchNode): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${node.port}/v1/schemas/subjects/db-change-event/versions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ schema: shippedSchema('db-change-event'), topics: [TOPIC] }),
  });
  if (!res.ok) throw new Error(`bench: registering db-change-event failed: ${res.status} ${await res.text()}`);
}

/** The node must refuse a change event without its required members: proof the bound schema is what the run pays for. */
async function assertValidating(node: BenchNode): Promise<void> {
  const ws = new WebSocket(node.wsUrl, 'meshgate.v1.json');
  try {
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', (raw: Buffer) => {
        const frame = JSON.parse(raw.toString()) as Record<string, unknown>;
        if (frame.op === 'hello')
          ws.send(
            JSON.stringify({
              op: 'pub',
              topic: TOPIC,
              ref: 1,
              event: { specversion: '1.0', id: 'probe', source: 'bench-probe', type: 'bench', data: { op: 'c' } },
            }),
          );
        else if (frame.ref === 1) resolve(frame);
      });
    });
    if (reply.code !== 'MG_ERR_EVENT_SCHEMA') throw new Error(`bench: an invalid change event was not refused by schema: ${JSON.stringify(reply)}`);
  } finally {
    ws.terminate();
  }
}

async function run(bound: boolean, opts: AnchorOptions): Promise<LoadResult> {
  const node = await startBenchNode(bound ? 'validating' : 'plain', await freePort(), []);
  try {
    if (bound) {
      await bindSchema(node);
      await assertValidating(node);
    }
    return await runLoad({
      transport: 'meshgate-ws-change',
      publishUrl: node.wsUrl,
      subscribeUrls: [node.wsUrl],
      topic: TOPIC,
      ...opts,
      serverPids: () => [node.child.pid!],
    });
  } finally {
    await node.stop();
  }
}

/** Two rows: no schema, and the schema bound (its name carries the difference and the ratio). */
export async function validationBench(opts: ValidationBenchOptions): Promise<NamedBenchResult[]> {
  return compareVariants(
    [
      { name: 'no schema bound', run: () => run(false, opts) },
      { name: 'db-change-event bound', run: () => run(true, opts) },
    ],
    opts.rounds ?? 2,
  );
}
