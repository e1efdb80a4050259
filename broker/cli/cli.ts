import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { checkFilter } from '../../routing/mod.js';
import { signHs256 } from '../auth/mod.js';
import { MeshError } from '../base/mod.js';
import { type ConfigLayer, envLayer, readConfigFile, redactUrl, resolveConfig } from '../config/mod.js';
import { type NodeExtensions, startNode, VERSION } from '../node/mod.js';
import { fetchNode } from './cli-fetch.js';
import { httpBaseUrl, httpPublish, type SseSubscription, sseSubscribe } from './http-client.js';
import { MeshClient, type OutgoingEvent } from './mesh-client.js';
import { SCHEMA_COMMAND } from './schema-cli.js';
import { STREAM_COMMAND } from './stream-cli.js';

/**
 * The `meshgate` command. Its flags are a contract scripts and the docs
 * rely on: add flags, never rename them.
 */
const DEFAULT_URL = 'ws://127.0.0.1:8080/v1/ws';

/** What the entry point (bin/meshgate.ts) plugs in: bridges live above broker/. */
let extensions: NodeExtensions = {};

type ParsedValues = ReturnType<typeof parseArgs>['values'];

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  run(values: ParsedValues, positionals: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'start a node (WebSocket + HTTP) and print its endpoints',
    usage: `meshgate start [--host H] [--port P] [--node-id ID] [--region R] [--config FILE]
                      [--peer ws://H:P]... [--mesh-key KEY] [--bridge PROTO=URL]...
                      [--jwt-secret S] [--data-dir DIR]

  --host H        address to bind (default 127.0.0.1; env MESHGATE_HOST)
  --port P        TCP port, 0 for a free one (default 8080; env MESHGATE_PORT)
  --node-id ID    node id, unique in the mesh (default: host name; env MESHGATE_NODE_ID)
  --region R      region label (default 'local'; env MESHGATE_REGION)
  --config FILE   YAML or JSON config (schemas/config.schema.json; env MESHGATE_CONFIG)
  --peer URL      dial this peer node; repeatable (env MESHGATE_PEERS, comma-separated)
  --mesh-key KEY  shared mesh key, the same on every node (env MESHGATE_MESH_KEY)
  --bridge P=URL  bridge a broker both ways with the default mappings; P is mqtt,
                  amqp or nats, e.g. --bridge mqtt=mqtt://127.0.0.1:1883; repeatable
  --jwt-secret S  require HS256 JWTs from clients (mint them with meshgate token);
                  at least 16 characters (env MESHGATE_JWT_SECRET)
  --data-dir DIR  where streams are kept, one node per directory (default
                  ./data/<node id>; env MESHGATE_DATA_DIR; storage.dir)

Precedence: defaults < config file < MESHGATE_* env < flags.
SIGINT/SIGTERM stop accepting, flush, close clients with 1001 and exit 0.`,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'node-id': { type: 'string' },
      region: { type: 'string' },
      config: { type: 'string' },
      peer: { type: 'string', multiple: true },
      'mesh-key': { type: 'string' },
      bridge: { type: 'string', multiple: true },
      'jwt-secret': { type: 'string' },
      'data-dir': { type: 'string' },
    },
    async run(v) {
      const configPath = (v.config as string | undefined) ?? process.env.MESHGATE_CONFIG;
      const flags: ConfigLayer = {
        node: { id: v['node-id'], region: v.region },
        listen: { host: v.host, port: v.port === undefined ? undefined : toIntOrString(v.port as string) },
        mesh: { key: v['mesh-key'], peers: v.peer },
        bridges: v.bridge === undefined ? undefined : (v.bridge as string[]).map(bridgeShorthand),
        auth: v['jwt-secret'] === undefined ? undefined : { jwt: { secret: v['jwt-secret'] } },
        storage: { dir: v['data-dir'] },
      };
      const config = resolveConfig(configPath ? readConfigFile(configPath) : {}, envLayer(process.env), flags);
      const running = await startNode(config, extensions);
      // Signal handlers go in before the banner: a supervisor may send SIGTERM
      // the moment it reads "ready", and the default action would skip close().
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stdout.write(`meshgate: ${signal}, shutting down\n`);
          void running.close().then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      process.stdout.write(
        `meshgate ${VERSION} node '${config.node.id}' (region '${config.node.region}') ready\n` +
          `  WebSocket (meshgate protocol)  ${running.wsUrl}\n` +
          `  WebSocket (CloudEvents)        ${running.wsUrl.replace(/\/v1\/ws$/, '')}/v1/ce/<topic-filter>\n` +
          `  HTTP publish (CloudEvents)     POST ${running.httpUrl}/v1/events/<topic>\n` +
          `  Server-Sent Events             ${running.httpUrl}/v1/sse/<topic-filter>\n` +
          `  health                         ${running.httpUrl}/healthz\n` +
          `  metrics                        ${running.httpUrl}/metrics\n` +
          `  stats                          ${running.httpUrl}/v1/stats\n` +
          `  peer links                     ${running.httpUrl}/v1/peers  (peers dial ${running.peerUrl})\n` +
          `  mesh view                      ${running.httpUrl}/v1/mesh\n` +
          `  bridges                        ${running.httpUrl}/v1/bridges\n` +
          `  schema registry                ${running.httpUrl}/v1/schemas/subjects\n` +
          `  streams                        ${running.httpUrl}/v1/streams  (${running.streams.list().length} stream(s), data in ${config.storage.dir})\n` +
          `  console                        ${running.httpUrl}/console\n` +
          `  tracing                        ${running.tracing}\n` +
          (config.mesh.peers.length > 0 ? `  dialing                        ${config.mesh.peers.join(' ')}\n` : '') +
          (config.auth.jwt !== undefined || (config.auth.tokens?.length ?? 0) > 0
            ? `  client auth                    on (token in ?token= or Authorization: Bearer)\n`
            : ''),
      );
      await stopped;
      return 0;
    },
  },
  pub: {
    summary: 'publish CloudEvents to a topic',
    usage: `meshgate pub TOPIC [DATA] [--url ws://H:P] [--token T] [--id ID] [--source S] [--type T] [--count N] [--rate PER_SEC]
                    [--content-type CT] [--quiet] [--http]

  DATA            event data; read from stdin when absent. JSON data is sent as a JSON
                  value (datacontenttype application/json), anything else as text/plain.
                  DATA starting with { [ or " must be valid JSON, unless --content-type
                  names a non-JSON type
  --url URL       node to publish to: ws://H:P means its /v1/ws endpoint
                  (default ${DEFAULT_URL}; env MESHGATE_URL)
  --token T       bearer token (a JWT from meshgate token, or a static token; env MESHGATE_TOKEN)
  --id ID         event id (default: a fresh UUID per event; with --count, ID-1..ID-N)
  --source S      CloudEvents source (default 'meshgate-cli')
  --type T        CloudEvents type (default 'meshgate.cli')
  --count N       events to publish (default 1)
  --rate R        events per second (default: as fast as acks come back)
  --content-type CT  datacontenttype of DATA; a JSON type (application/json, ...+json)
                  must be valid JSON, any other is sent as text
  --quiet         print nothing on success
  --http          publish with POST /v1/events/TOPIC (CloudEvents HTTP binary mode)
                  instead of the WebSocket; --url may be http://H:P or ws://H:P

Every event is acked; prints each event's id (followed by ' duplicate' when the
node already had it), one per line; the first refusal prints its code and exits 1.`,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      id: { type: 'string' },
      source: { type: 'string' },
      type: { type: 'string' },
      count: { type: 'string' },
      rate: { type: 'string' },
      'content-type': { type: 'string' },
      quiet: { type: 'boolean' },
      http: { type: 'boolean' },
    },
    async run(v, positionals) {
      const [topic, dataArg] = positionals;
      if (topic === undefined) throw usageError('pub needs a TOPIC');
      const count = positiveInt(v.count as string | undefined, 'count', 1);
      const rate = v.rate === undefined ? 0 : positiveInt(v.rate as string, 'rate', 1);
      const text = dataArg ?? (process.stdin.isTTY ? '' : readFileSync(0, 'utf8'));
      // Checked before connecting: a typo in JSON data is refused, never sent as text.
      const data = dataOf(text, v['content-type'] as string | undefined);
      const client = v.http ? httpPublisher(urlOf(v), tokenOf(v).token) : await MeshClient.connect(urlOf(v), tokenOf(v));
      try {
        const started = Date.now();
        for (let i = 0; i < count; i++) {
          if (rate > 0) {
            const due = started + (i * 1000) / rate;
            const wait = due - Date.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
          const id = v.id === undefined ? randomUUID() : count === 1 ? (v.id as string) : `${v.id as string}-${i + 1}`;
          const event: OutgoingEvent = { id, source: (v.source as string) ?? 'meshgate-cli', type: (v.type as string) ?? 'meshgate.cli', ...data };
          const { duplicate } = await client.publish(topic, event);
          if (!v.quiet) process.stdout.write(duplicate ? `${id} duplicate\n` : `${id}\n`);
        }
      } finally {
        await client.close();
      }
      return 0;
    },
  },
  sub: {
    summary: 'subscribe to a topic filter and print events as JSON lines',
    usage: `meshgate sub FILTER [--url ws://H:P] [--token T] [--count N] [--sse] [--stream NAME [--from first|last|last-per-topic|new|OFFSET|TIME]]

  FILTER          topic filter: '*' matches one token, '>' one or more trailing tokens
  --url URL       node to subscribe at: ws://H:P means its /v1/ws endpoint
                  (default ${DEFAULT_URL}; env MESHGATE_URL)
  --token T       bearer token (env MESHGATE_TOKEN)
  --count N       exit after N events (default: run until interrupted)
  --sse           read GET /v1/sse/FILTER (Server-Sent Events) instead of the
                  WebSocket; --url may be http://H:P or ws://H:P
  --stream NAME   read the stream NAME's entries matching FILTER, then follow it
  --from F        where to start in the stream: first (oldest kept), last (newest
                  matching FILTER), last-per-topic (the newest of each matching
                  topic), new (default: only new ones), OFFSET (start at that
                  offset) or an RFC 3339 TIME (first entry at or after it)

Prints {"topic":...,"event":<structured CloudEvent>} per line on stdout (with
--stream: {"topic":...,"offset":N,"event":...}), and 'subscribed to FILTER'
on stderr once the node has acknowledged. A refused filter, a position the
stream cannot serve (MG_ERR_STREAM_PRUNED, ...) or a stream the node ends
prints its code and exits 1.`,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      count: { type: 'string' },
      sse: { type: 'boolean' },
      stream: { type: 'string' },
      from: { type: 'string' },
    },
    async run(v, positionals) {
      const [filter] = positionals;
      if (filter === undefined) throw usageError('sub needs a FILTER');
      const count = v.count === undefined ? Infinity : positiveInt(v.count as string, 'count', 1);
      if (v.from !== undefined && v.stream === undefined) throw usageError('--from needs --stream NAME');
      if (v.sse && v.stream !== undefined) throw usageError('--sse and --stream do not go together yet: SSE resume comes with stream-backed SSE');
      if (v.sse) return subscribeSse(urlOf(v), tokenOf(v).token, filter, count);
      const from = v.from as string | undefined;
      const stream =
        v.stream === undefined ? undefined : { name: v.stream as string, from: from !== undefined && /^\d+$/.test(from) ? Number(from) : (from ?? 'new') };
      const client = await MeshClient.connect(urlOf(v), tokenOf(v));
      let seen = 0;
      const done = new Promise<number>((resolve) => {
        client.socket.once('close', (code: number, reason: Buffer) => {
          if (code !== 1000 && seen < count) process.stderr.write(`closed ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}\n`);
          resolve(code === 1000 || seen >= count ? 0 : 1);
        });
        const stop = () => void client.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      try {
        await client.subscribe(
          filter,
          (e) => {
            if (seen >= count) return;
            seen++;
            const line = stream === undefined ? { topic: e.topic, event: e.event } : { topic: e.topic, offset: e.offset, event: e.event };
            process.stdout.write(`${JSON.stringify(line)}\n`);
            if (seen >= count) void client.close();
          },
          stream,
        );
      } catch (err) {
        // A refused filter leaves the socket open, and an open socket keeps
        // the process alive: close it, then report the refusal (exit 1).
        await client.close();
        throw err;
      }
      process.stderr.write(`subscribed to ${filter}\n`);
      return done;
    },
  },
  token: {
    summary: 'mint an HS256 JWT for a node started with --jwt-secret (or auth.jwt.secret)',
    usage: `meshgate token --secret S [--pub FILTER]... [--sub FILTER]... [--deny-pub FILTER]...
                      [--deny-sub FILTER]... [--ttl 1h] [--name N] [--aud A] [--iss I]

  --secret S        the node's HS256 secret (env MESHGATE_JWT_SECRET)
  --pub FILTER      topic filter the holder may publish to; repeatable
  --sub FILTER      topic filter the holder may subscribe to; repeatable
  --deny-pub F      never publish here, whatever --pub allows; repeatable
  --deny-sub F      never receive these topics, whatever --sub allows; repeatable
  --ttl T           lifetime: 90s, 30m, 1h, 7d, or 'none' for no expiry (default 1h)
  --name N          the token's subject (sub claim), shown in logs (default 'meshgate-cli')
  --aud A, --iss I  audience and issuer claims, for nodes that check them

Prints the token. Reserved _mg.> topics (dead letters, system events) need a
filter naming them: --sub '_mg.>'.`,
    options: {
      secret: { type: 'string' },
      pub: { type: 'string', multiple: true },
      sub: { type: 'string', multiple: true },
      'deny-pub': { type: 'string', multiple: true },
      'deny-sub': { type: 'string', multiple: true },
      ttl: { type: 'string' },
      name: { type: 'string' },
      aud: { type: 'string' },
      iss: { type: 'string' },
    },
    async run(v) {
      const secret = (v.secret as string | undefined) ?? process.env.MESHGATE_JWT_SECRET;
      if (secret === undefined || secret.length < 16) throw usageError("--secret must be the node's secret, at least 16 characters");
      const now = Math.floor(Date.now() / 1000);
      const ttl = ttlSeconds((v.ttl as string | undefined) ?? '1h');
      const list = (name: string) => (v[name] as string[] | undefined) ?? [];
      // A node refuses a token whose perms claim holds a bad filter (MG_ERR_AUTH_INVALID
      // at every connect); say so here, where the filter was typed.
      for (const name of ['pub', 'sub', 'deny-pub', 'deny-sub']) {
        for (const filter of list(name)) {
          const problem = checkFilter(filter);
          if (problem !== null) throw new MeshError(problem.code, `--${name} '${filter}': ${problem.message}; no token minted`);
        }
      }
      const claims: Record<string, unknown> = {
        sub: (v.name as string | undefined) ?? 'meshgate-cli',
        iat: now,
        ...(ttl === null ? {} : { exp: now + ttl }),
        ...(v.aud === undefined ? {} : { aud: v.aud }),
        ...(v.iss === undefined ? {} : { iss: v.iss }),
        perms: { pub: { allow: list('pub'), deny: list('deny-pub') }, sub: { allow: list('sub'), deny: list('deny-sub') } },
      };
      process.stdout.write(`${signHs256(claims, secret)}\n`);
      return 0;
    },
  },
  peers: {
    summary: "show a node's peer links (state, region, rtt, buffered, replayed)",
    usage: `meshgate peers [--url http://H:P] [--json]

  --url URL       the node to ask; ws:// URLs are accepted (default ${DEFAULT_URL})
  --json          print the raw /v1/peers JSON`,
    options: { url: { type: 'string' }, json: { type: 'boolean' } },
    async run(v) {
      const base = new URL(urlOf(v));
      base.protocol = base.protocol === 'wss:' || base.protocol === 'https:' ? 'https:' : 'http:';
      base.pathname = '/v1/peers';
      const body = (await (await fetchNode(base.toString())).json()) as { node: string; region: string; peers: Array<Record<string, unknown>> };
      if (v.json) {
        process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
        return 0;
      }
      const cols = ['node', 'region', 'state', 'direction', 'rttMs', 'buffered', 'replayed', 'sentEvents', 'receivedEvents', 'overflow', 'url'];
      const rows = body.peers.map((p) => cols.map((c) => (p[c] === null || p[c] === undefined ? '-' : String(p[c]))));
      const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
      const line = (cells: string[]) =>
        cells
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('  ')
          .trimEnd();
      process.stdout.write(
        `node ${body.node} (region ${body.region}): ${body.peers.length} peer(s)\n${line(cols)}\n${rows.map(line).join('\n')}${rows.length ? '\n' : ''}`,
      );
      return 0;
    },
  },
  schema: SCHEMA_COMMAND,
  stream: STREAM_COMMAND,
};

/** 'mqtt=mqtt://h:p' -> { type: 'mqtt', url: 'mqtt://h:p' }; the schema checks the rest. */
function bridgeShorthand(spec: string): Record<string, string> {
  const at = spec.indexOf('=');
  if (at <= 0) throw usageError(`--bridge expects PROTO=URL (e.g. mqtt=mqtt://127.0.0.1:1883), got '${redactUrl(spec)}'`);
  return { type: spec.slice(0, at), url: spec.slice(at + 1) };
}

/**
 * DATA as CloudEvents data with its datacontenttype. Without a content
 * type: JSON is sent as JSON; text that starts like JSON ({ [ ") but does
 * not parse is refused, because sending it as text/plain would hide a
 * typo; any other text is text/plain. A JSON content type must parse; any
 * other is sent as the text given.
 */
function dataOf(text: string, contentType: string | undefined): OutgoingEvent {
  if (text === '' && contentType === undefined) return {};
  const json = contentType === undefined || /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType);
  if (!json) return { datacontenttype: contentType, data: text };
  try {
    return { datacontenttype: contentType ?? 'application/json', data: JSON.parse(text) as unknown };
  } catch (err) {
    if (contentType === undefined && !/^\s*[[{"]/.test(text)) return { datacontenttype: 'text/plain', data: text };
    throw new MeshError(
      'MG_ERR_EVENT_INVALID',
      `data: not valid JSON (${(err as Error).message}); nothing was sent; fix: correct the JSON, or pass --content-type text/plain to send it as text`,
    );
  }
}

/** pub --http: the one method pub uses of MeshClient, over POST /v1/events/. */
function httpPublisher(url: string, token: string | undefined): Pick<MeshClient, 'publish' | 'close'> {
  const base = httpBaseUrl(url);
  return { publish: (topic, event = {}) => httpPublish(base, topic, event, token), close: async () => undefined };
}

/** sub --sse: the same lines as sub over the WebSocket; exit 1 when the node ends the stream before --count. */
async function subscribeSse(url: string, token: string | undefined, filter: string, count: number): Promise<number> {
  let seen = 0;
  // Events may be read before sseSubscribe's promise settles: close once it has.
  let subscription: SseSubscription | undefined;
  subscription = await sseSubscribe(httpBaseUrl(url), filter, token, (e) => {
    if (seen >= count) return;
    seen++;
    process.stdout.write(`${JSON.stringify({ topic: e.topic, event: e.event })}\n`);
    if (seen >= count) subscription?.close();
  });
  if (seen >= count) subscription.close();
  process.stderr.write(`subscribed to ${filter}\n`);
  const stop = () => subscription.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const how = await subscription.done;
  if (how === 'closed' || seen >= count) return 0;
  process.stderr.write('stream ended by the node\n');
  return 1;
}

function urlOf(v: Record<string, unknown>): string {
  return (v.url as string | undefined) ?? process.env.MESHGATE_URL ?? DEFAULT_URL;
}

function tokenOf(v: Record<string, unknown>): { token?: string } {
  const token = (v.token as string | undefined) ?? process.env.MESHGATE_TOKEN;
  return token === undefined || token === '' ? {} : { token };
}

/** '90s' | '30m' | '1h' | '7d' | '3600' -> seconds; 'none' -> null (no expiry). */
function ttlSeconds(raw: string): number | null {
  if (raw === 'none') return null;
  const m = /^(\d+)([smhd]?)$/.exec(raw);
  if (m === null || Number(m[1]) < 1) throw usageError(`--ttl expects a duration like 90s, 30m, 1h or 7d (or none), got '${raw}'`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

function toIntOrString(s: string): number | string {
  return /^-?\d+$/.test(s) ? Number(s) : s;
}

function positiveInt(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw usageError(`--${name} expects a whole number >= 1, got '${raw}'; fix: --${name} N with N at least 1, e.g. --${name} 10`);
  return Number(raw);
}

/**
 * parseArgs reads `--count -2` as a flag missing its value followed by an
 * unknown option '-2', and says only that it is "ambiguous". A value that
 * is a negative number is plainly meant as the value: join it
 * (`--count=-2`) so the flag's own check names flag, value and fix.
 */
function joinNegativeValues(args: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') {
      out.push(...args.slice(i));
      break;
    }
    const name = args[i].startsWith('--') ? args[i].slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && i + 1 < args.length && /^-\d/.test(args[i + 1])) {
      out.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

class UsageError extends Error {}
function usageError(message: string): UsageError {
  return new UsageError(message);
}

function mainUsage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)}${c.summary}`);
  return `meshgate ${VERSION}: event-mesh gateway

Usage: meshgate <command> [options]   (meshgate <command> --help for its options)

Commands:
${lines.join('\n')}
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainUsage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`meshgate: unknown command '${name}'\n\n${mainUsage()}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(rest, command.options),
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`meshgate ${name}: ${(err as Error).message}\n\nUsage: ${command.usage}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`Usage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(parsed.values, parsed.positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`meshgate ${name}: ${err.message}\n\nUsage: ${command.usage}\n`);
      return 2;
    }
    if (err instanceof MeshError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`meshgate ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}

/** Runs the CLI with `argv` (without node and script) and the given extensions; resolves to the exit code. */
export async function runCli(argv: string[], withExtensions: NodeExtensions = {}): Promise<number> {
  extensions = withExtensions;
  return main(argv);
}
