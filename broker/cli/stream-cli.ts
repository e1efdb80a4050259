import type { ParseArgsConfig, parseArgs } from 'node:util';
import { apiBase, callJson, DEFAULT_API_URL, printRefusal } from './cli-fetch.js';

/**
 * `meshgate stream add|ls|info|rm`: the streams API (broker/http/stream-api.ts)
 * from the command line. Exit codes: 0 done, 1 refused / node error, 2 usage.
 */
const DEFAULT_URL = DEFAULT_API_URL;

const USAGE = `meshgate stream add NAME --filter F [--filter F]... [--max-age 24h] [--max-bytes N] [--max-events N] [--url U]
       meshgate stream ls [--url U] [--json]
       meshgate stream info NAME [--url U] [--json]
       meshgate stream rm NAME [--consumer C] [--url U]

  add      create stream NAME keeping the events of the filters (kept across
           restarts); an existing stream with the same settings is left as is
  ls       one line per stream: events, first and last offset, bytes, filters
  info     first, last, events, bytes, epoch and settings of NAME, and its
           durable consumers: ack floor, in flight, lag (last - ack floor)
  rm       remove NAME and its events; with --consumer, only that durable
           consumer of NAME (and its stored position)

  --filter F      topic filter (NATS style: orders.>, sensors.*.temp); repeatable
  --max-age D     drop events older than D: ms, or 90s, 15m, 24h, 7d (default: keep)
  --max-bytes N   keep at most N bytes (default: no limit)
  --max-events N  keep at most N events (default: no limit)
  --url U         the node (http(s):// or its ws(s):// URL; default ${DEFAULT_URL};
                  env MESHGATE_URL)
  --consumer C    rm: the durable consumer to remove
  --json          ls, info: print JSON`;

type ParsedValues = ReturnType<typeof parseArgs>['values'];

/** The `stream` entry of the CLI's command table. */
export const STREAM_COMMAND = {
  summary: 'add, list, inspect and remove streams (events kept on disk)',
  usage: USAGE,
  options: {
    filter: { type: 'string', multiple: true },
    'max-age': { type: 'string' },
    'max-bytes': { type: 'string' },
    'max-events': { type: 'string' },
    url: { type: 'string' },
    json: { type: 'boolean' },
    consumer: { type: 'string' },
  } satisfies NonNullable<ParseArgsConfig['options']>,
  async run(v: ParsedValues, positionals: string[]): Promise<number> {
    const [sub, name] = positionals;
    const base = apiBase(v.url as string | undefined, '/v1/streams');
    switch (sub) {
      case 'add': {
        if (name === undefined) return usage('add needs NAME');
        const filters = (v.filter as string[] | undefined) ?? [];
        if (filters.length === 0) return usage('add needs at least one --filter');
        const body: Record<string, unknown> = { name, filters };
        const age = v['max-age'] as string | undefined;
        if (age !== undefined) body.maxAge = /^[0-9]+$/.test(age) ? Number(age) : age;
        for (const [flag, key] of [
          ['max-bytes', 'maxBytes'],
          ['max-events', 'maxEvents'],
        ] as const) {
          const raw = v[flag] as string | undefined;
          if (raw === undefined) continue;
          if (!/^[0-9]+$/.test(raw)) return usage(`--${flag}: expected a whole number >= 0, got '${raw}'`);
          body[key] = Number(raw);
        }
        const [status, answer] = await callJson('POST', base, body);
        if (status !== 200 && status !== 201) return printRefusal(answer);
        process.stdout.write(`${status === 201 ? 'created' : 'exists'} stream ${name} (epoch ${String(answer.epoch)})\n`);
        return 0;
      }
      case 'ls': {
        const [status, answer] = await callJson('GET', base);
        if (status !== 200) return printRefusal(answer);
        const rows = answer.streams as Array<Record<string, unknown>>;
        if (v.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return 0;
        }
        const cols = ['name', 'events', 'first', 'last', 'bytes', 'filters'];
        const cells = rows.map((r) => [
          String(r.name),
          String(r.events),
          String(r.first),
          String(r.last),
          String(r.bytes),
          ((r.config as { filters: string[] }).filters ?? []).join(','),
        ]);
        const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
        const line = (cs: string[]) =>
          cs
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd();
        process.stdout.write(`${rows.length} stream(s)\n${line(cols)}\n${cells.map((r) => `${line(r)}\n`).join('')}`);
        return 0;
      }
      case 'info': {
        if (name === undefined) return usage('info needs NAME');
        const [status, answer] = await callJson('GET', `${base}/${encodeURIComponent(name)}`);
        if (status !== 200) return printRefusal(answer);
        if (v.json) {
          process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
          return 0;
        }
        const c = answer.config as Record<string, unknown>;
        process.stdout.write(
          `stream ${String(answer.name)}\n` +
            `  first    ${String(answer.first)}\n` +
            `  last     ${String(answer.last)}\n` +
            `  events   ${String(answer.events)}\n` +
            `  bytes    ${String(answer.bytes)}\n` +
            `  epoch    ${String(answer.epoch)}\n` +
            `  filters  ${(c.filters as string[]).join(' ')}\n` +
            `  limits   maxAge ${String(c.maxAge)} ms, maxBytes ${String(c.maxBytes)}, maxEvents ${String(c.maxEvents)} (0: none)\n` +
            consumerLines((answer.consumers as Array<Record<string, unknown>> | undefined) ?? []),
        );
        return 0;
      }
      case 'rm': {
        if (name === undefined) return usage('rm needs NAME');
        const consumer = v.consumer as string | undefined;
        if (consumer !== undefined) {
          const [status, answer] = await callJson('DELETE', `${base}/${encodeURIComponent(name)}/consumers/${encodeURIComponent(consumer)}`);
          if (status !== 204) return printRefusal(answer);
          process.stdout.write(`removed consumer ${consumer} of stream ${name}\n`);
          return 0;
        }
        const [status, answer] = await callJson('DELETE', `${base}/${encodeURIComponent(name)}`);
        if (status !== 204) return printRefusal(answer);
        process.stdout.write(`removed stream ${name}\n`);
        return 0;
      }
      default:
        return usage(sub === undefined ? 'stream needs a subcommand: add, ls, info or rm' : `unknown subcommand '${sub}'`);
    }
  },
};

/** The consumers part of `stream info`: a count, then one row each. */
function consumerLines(consumers: Array<Record<string, unknown>>): string {
  if (consumers.length === 0) return '  consumers none\n';
  const cols = ['name', 'filter', 'ack floor', 'in flight', 'lag', 'bound'];
  const cells = consumers.map((c) => [
    String(c.name),
    c.filter === null ? '(all)' : String(c.filter),
    String(c.ackFloor),
    String(c.inFlight),
    String(c.lag),
    String(c.bound),
  ]);
  const widths = cols.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (cs: string[]) =>
    `    ${cs
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  return `  consumers ${consumers.length}\n${line(cols)}${cells.map(line).join('')}`;
}

function usage(message: string): number {
  process.stderr.write(`meshgate stream: ${message}\n\nUsage: ${USAGE}\n`);
  return 2;
}
