import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { AuthConfig } from '../auth/mod.js';
import { MeshError } from '../base/mod.js';
import { PEER_LINK_DEFAULTS, type PeerLinkOptions } from '../peering/mod.js';
import { type StreamEntryConfig, streamEntryFromConfig } from '../streams/mod.js';
import { type WebhookConfig, webhookConfigFromEntry } from '../webhooks/mod.js';
import { isSecretKey, redactUrl, showValue } from './redact.js';

/**
 * Node configuration: one file (YAML or JSON), validated against
 * schemas/config.schema.json, then environment, then CLI overrides.
 * Precedence, lowest first: DEFAULTS < file < MESHGATE_* env < CLI flags.
 */
export interface NodeConfig {
  readonly node: { readonly id: string; readonly region: string };
  readonly listen: { readonly host: string; readonly port: number };
  /** TLS on the client port (wss://, https://); none: plain. */
  readonly tls?: TlsFiles;
  /** Client credentials and origin checks; with no jwt and no tokens every client is admitted. @default {} */
  readonly auth: AuthConfig & { readonly allowedOrigins?: readonly string[] };
  readonly limits: {
    /** Largest WebSocket frame accepted, bytes. @default 1_048_576 */
    readonly maxFrameBytes: number;
    /** Largest event data accepted, bytes. @default 262_144 */
    readonly maxEventBytes: number;
    /** Subscriptions one connection may hold. @default 1000 */
    readonly maxSubscriptionsPerConnection: number;
    /** Bytes buffered for one subscriber before it is closed as slow. @default 16_777_216 */
    readonly maxBufferedBytes: number;
    /** Bytes buffered for all subscribers together before the largest are closed as slow. @default 268_435_456 */
    readonly maxNodeBufferedBytes: number;
    readonly topic: { readonly maxLength: number; readonly maxTokens: number; readonly maxWildcards: number };
    /** Open connections per client address; 0: no limit. @default 0 */
    readonly maxConnectionsPerIp: number;
    /** New connections per second per client address; 0: no limit. @default 0 */
    readonly connectionRatePerIp: number;
    /** Connections at once before the rate applies; 0: twice the rate. @default 0 */
    readonly connectionBurstPerIp: number;
    /** Events per second one connection may publish; 0: no limit. @default 0 */
    readonly publishRate: number;
    /** Events at once before publishRate applies; 0: one second's worth. @default 0 */
    readonly publishBurst: number;
  };
  readonly mesh: {
    /** Shared mesh key; peering is off without one. */
    readonly key?: string;
    /** Peer URLs this node dials. @default [] */
    readonly peers: readonly string[];
    /** Hop path length past which events are not forwarded. @default 16 */
    readonly maxHops: number;
    /** Keepalive interval, ms. @default 5000 */
    readonly keepaliveMs: number;
    /** First reconnect delay, ms. @default 100 */
    readonly backoffMinMs: number;
    /** Longest reconnect delay, ms. @default 5000 */
    readonly backoffMaxMs: number;
    /** How long an event waits for an origin not heard of yet, ms. @default 30000 */
    readonly parkMs: number;
    /** After start, how long a stream subscription of a stream no peer advertised yet waits for the peers' lists, ms. @default 5000 */
    readonly streamLookupMs: number;
    /** Most events waiting for unknown origins. @default 100000 */
    readonly maxParked: number;
    /** A peer socket with no valid hello this long after opening is closed with 4408, ms (also the TLS and HTTP stages on the mesh.tls listener). @default 5000 */
    readonly handshakeTimeoutMs: number;
    /** Peer sockets open without a completed hello, node-wide; past it peer upgrades get HTTP 503 MG_ERR_PEER_BUSY. @default 64 */
    readonly maxPendingHandshakes: number;
    /** A peer's hybrid logical clock stamp further ahead of this node's wall clock than this is followed only this far (and counted), ms. @default 60000 */
    readonly hlcMaxAheadMs: number;
    readonly link: PeerLinkOptions;
    /** Mutual TLS between peers (a separate wss listener); none: plain ws peering on the client port. */
    readonly tls?: TlsFiles & { readonly caFile: string; readonly port?: number; readonly host?: string };
  };
  /**
   * Broker bridges, one entry each; the shape of an entry is defined and
   * checked by bridges/ (schemas/config.schema.json `bridges`). @default []
   */
  readonly bridges: ReadonlyArray<Readonly<Record<string, unknown>>>;
  /** The CloudEvents HTTP binding (POST /v1/events/, GET /v1/sse/). */
  readonly http: {
    /** A comment line goes to every Server-Sent Events stream this often, ms, so proxies keep idle streams open. @default 15_000 */
    readonly sseHeartbeatMs: number;
    /** WebHook-Request-Origin values OPTIONS /v1/events/ allows; empty: any origin whose request passes auth. @default [] */
    readonly webhookOrigins: readonly string[];
  };
  readonly dedup: {
    /** How long an (source, id) pair is remembered, ms. @default 120_000 */
    readonly windowMs: number;
    /** Most pairs remembered. @default 1_000_000 */
    readonly maxEntries: number;
  };
  /** Where and how streams are kept (README "Streams"). */
  readonly storage: {
    /** The stream store's directory, created on demand; one node per directory. @default './data/<node id>' */
    readonly dir: string;
    /** 'lmdb' on disk; 'jetstream' on the nats-servers of `jetstream`; 'memory' is lost at exit (tests). @default 'lmdb' */
    readonly engine: StorageEngine;
    /** The JetStream engine's servers and naming; required with engine 'jetstream'. */
    readonly jetstream?: {
      readonly servers: readonly string[];
      /** @default the node id, other characters than A-Z a-z 0-9 - as '-', at most 32 */
      readonly storeId?: string;
      readonly replicas?: number;
      readonly cacheEntries?: number;
    };
    /** 'group': one commit + fsync per event-loop turn; 'sync': one per append. Acks wait for either. @default 'group' */
    readonly durability: 'group' | 'sync';
    /** Appends are refused with MG_ERR_STREAM_FULL past this many stored bytes; 0: no limit. @default 0 */
    readonly maxBytes: number;
  };
  /** Streams created (or, when their config changed, re-created) at start-up. @default [] */
  readonly streams: readonly StreamEntryConfig[];
  /** Webhooks started with the node (broker/webhooks/). @default [] */
  readonly webhooks: readonly WebhookConfig[];
}

/** Stream store engines a node can open. */
export type StorageEngine = 'lmdb' | 'memory' | 'jetstream';

/** PEM files of a TLS endpoint. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
  readonly passphrase?: string;
}

/** A partial configuration as a file, the environment or the CLI gives it. */
export type ConfigLayer = { [K in keyof NodeConfig]?: Partial<{ [P in keyof NodeConfig[K]]: unknown }> };

export const DEFAULTS: NodeConfig = Object.freeze({
  node: { id: defaultNodeId(), region: 'local' },
  listen: { host: '127.0.0.1', port: 8080 },
  limits: {
    maxFrameBytes: 1_048_576,
    maxEventBytes: 262_144,
    maxSubscriptionsPerConnection: 1000,
    maxBufferedBytes: 16_777_216,
    maxNodeBufferedBytes: 268_435_456,
    maxConnectionsPerIp: 0,
    connectionRatePerIp: 0,
    connectionBurstPerIp: 0,
    publishRate: 0,
    publishBurst: 0,
    topic: { maxLength: 256, maxTokens: 16, maxWildcards: 8 },
  },
  dedup: { windowMs: 120_000, maxEntries: 1_000_000 },
  http: { sseHeartbeatMs: 15_000, webhookOrigins: [] },
  // dir '' stands for ./data/<node id>, resolved once the node id is known.
  storage: { dir: '', engine: 'lmdb' as StorageEngine, durability: 'group' as const, maxBytes: 0 },
  streams: [],
  webhooks: [],
  bridges: [],
  auth: {},
  mesh: {
    peers: [],
    maxHops: 16,
    keepaliveMs: 5000,
    backoffMinMs: 100,
    backoffMaxMs: 5000,
    parkMs: 30_000,
    streamLookupMs: 5000,
    maxParked: 100_000,
    handshakeTimeoutMs: 5000,
    maxPendingHandshakes: 64,
    hlcMaxAheadMs: 60_000,
    link: { ...PEER_LINK_DEFAULTS },
  },
});

function defaultNodeId(): string {
  const cleaned = hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 64);
  return cleaned.length > 0 ? cleaned : 'meshgate';
}

/** Environment variables a node reads, and the key each one sets. */
export const ENV_KEYS: Readonly<Record<string, readonly [string, string, 'string' | 'integer' | 'list']>> = {
  MESHGATE_NODE_ID: ['node', 'id', 'string'],
  MESHGATE_REGION: ['node', 'region', 'string'],
  MESHGATE_HOST: ['listen', 'host', 'string'],
  MESHGATE_PORT: ['listen', 'port', 'integer'],
  MESHGATE_MESH_KEY: ['mesh', 'key', 'string'],
  MESHGATE_PEERS: ['mesh', 'peers', 'list'],
  MESHGATE_JWT_SECRET: ['auth', 'jwt.secret', 'string'],
  MESHGATE_DATA_DIR: ['storage', 'dir', 'string'],
};

const require = createRequire(import.meta.url);
const schema = require('../../../schemas/config.schema.json') as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** Reads a YAML or JSON file into a layer; a missing or unparsable file stops start-up. */
export function readConfigFile(path: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MeshError('MG_ERR_CONFIG_INVALID', `config file ${path}: cannot read it (${(err as Error).message}); fix: pass an existing file to --config`, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new MeshError('MG_ERR_CONFIG_INVALID', `config file ${path}: not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (parsed === null || parsed === undefined) return {};
  return parsed as ConfigLayer;
}

/** Reads the MESHGATE_* variables of `env` into a layer. */
export function envLayer(env: NodeJS.ProcessEnv): ConfigLayer {
  const layer: Record<string, Record<string, unknown>> = {};
  for (const [name, [section, key, kind]] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    // A non-numeric port stays a string so the schema check names the key.
    const value =
      kind === 'integer' && /^-?\d+$/.test(raw)
        ? Number(raw)
        : kind === 'list'
          ? raw
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean)
          : raw;
    // A dotted key ('jwt.secret') sets a nested value.
    const path = key.split('.');
    let at = (layer[section] ??= {});
    for (const k of path.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[path[path.length - 1]] = value;
  }
  return layer as ConfigLayer;
}

/**
 * Merges layers over DEFAULTS and validates the result once. Throws
 * MeshError MG_ERR_CONFIG_INVALID naming every wrong key, the reason and the fix.
 */
export function resolveConfig(...layers: ConfigLayer[]): NodeConfig {
  const merged = layers.reduce<Record<string, unknown>>((acc, layer) => mergeDeep(acc, layer as Record<string, unknown>), {});
  if (!validate(merged)) {
    const lines = (validate.errors ?? []).map((e) => describeError(e, merged));
    throw new MeshError('MG_ERR_CONFIG_INVALID', `invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const config = mergeDeep(structuredClone(DEFAULTS) as unknown as Record<string, unknown>, merged) as unknown as NodeConfig;
  resolveStorage(config as unknown as Parameters<typeof resolveStorage>[0]);
  resolveWebhooks(config as unknown as { webhooks: Array<Record<string, unknown>> });
  if (config.mesh.peers.length > 0 && config.mesh.key === undefined) {
    throw new MeshError(
      'MG_ERR_CONFIG_INVALID',
      'invalid configuration:\n  mesh.key: required when mesh.peers is set; fix: set mesh.key (or --mesh-key, MESHGATE_MESH_KEY) to the same secret on every node',
    );
  }
  const tlsPeer = config.mesh.tls === undefined ? undefined : config.mesh.peers.findIndex((u) => !u.startsWith('wss://'));
  if (tlsPeer !== undefined && tlsPeer >= 0) {
    throw new MeshError(
      'MG_ERR_CONFIG_INVALID',
      `invalid configuration:\n  mesh.peers[${tlsPeer}]: expected a wss:// URL when mesh.tls is set, got '${redactUrl(config.mesh.peers[tlsPeer])}'; fix: dial the peer's mesh.tls port with wss://`,
    );
  }
  return Object.freeze(config);
}

/** The default data directory, and stream entries as StreamConfig (maxAge '24h' -> maxAgeMs). The schema checked their shape. */
function resolveStorage(config: {
  node: NodeConfig['node'];
  storage: { dir: string; engine: StorageEngine; jetstream?: { storeId?: string } };
  mesh: { key?: string };
  streams: unknown[];
}): void {
  if (config.storage.dir === '') config.storage.dir = join('data', config.node.id);
  if (config.storage.engine === 'jetstream') {
    if (config.storage.jetstream === undefined) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        "invalid configuration:\n  storage.jetstream: required when storage.engine is 'jetstream'; fix: set storage.jetstream.servers to the nats-server URLs, e.g. [nats://127.0.0.1:4222]",
      );
    }
    config.storage.jetstream.storeId ??= config.node.id.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 32);
  }
  const seen = new Map<string, number>();
  config.streams = config.streams.map((entry, i) => {
    let c: StreamEntryConfig;
    try {
      c = streamEntryFromConfig(entry, `streams[${i}]`);
    } catch (err) {
      throw new MeshError('MG_ERR_CONFIG_INVALID', `invalid configuration:\n  ${(err as Error).message}`, { cause: err });
    }
    const before = seen.get(c.name);
    if (before !== undefined) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  streams[${i}].name: '${c.name}' is already streams[${before}]; fix: give each stream its own name`,
      );
    }
    seen.set(c.name, i);
    if (c.mirror !== undefined && config.mesh.key === undefined) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  streams[${i}].mirror: a mirror reads its source from a peer, and peering is off without mesh.key; fix: set mesh.key and mesh.peers, or no mirror`,
      );
    }
    if (c.mirror !== undefined && config.storage.engine === 'jetstream') {
      // JetStream numbers entries and mints epochs itself: a mirror could keep neither the source's offsets nor its epoch.
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  streams[${i}].mirror: a mirror needs storage.engine lmdb or memory (JetStream numbers entries itself); fix: another engine, or no mirror`,
      );
    }
    return c;
  });
}

/** Webhook entries with their defaults; names unique (they name the stored positions). */
function resolveWebhooks(config: { webhooks: Array<Record<string, unknown>> }): void {
  const seen = new Map<string, number>();
  config.webhooks = config.webhooks.map((entry, i) => {
    const w = webhookConfigFromEntry(entry, i);
    if (w.consumer !== undefined && w.stream === undefined) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  webhooks[${i}].consumer: a durable consumer reads a stream; fix: add stream: <name>, or remove consumer`,
      );
    }
    const before = seen.get(w.name);
    if (before !== undefined) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  webhooks[${i}].name: '${w.name}' is already webhooks[${before}]; fix: give each webhook its own name`,
      );
    }
    seen.set(w.name, i);
    return w as unknown as Record<string, unknown>;
  });
}

function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown> | undefined): Record<string, unknown> {
  if (over === undefined || over === null || typeof over !== 'object' || Array.isArray(over)) return base;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] = isPlainObject(v) && isPlainObject(b) ? mergeDeep(b, v) : isPlainObject(v) ? mergeDeep({}, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** "listen.port: must be <= 65535, got 70000; fix: TCP port 0-65535 ..." */
function describeError(e: ErrorObject, root: Record<string, unknown>): string {
  // A JSON Pointer (RFC 6901): unescape each token.
  const path = e.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const key = keyName([...path, extra]);
    const known = Object.keys(schemaAt(path)?.properties ?? {}).join(', ');
    return `${key}: unknown key; fix: remove it or use one of: ${known}`;
  }
  const key = keyName(path);
  const got = path.reduce<unknown>((v, p) => (isPlainObject(v) ? v[p] : Array.isArray(v) ? v[Number(p)] : undefined), root);
  const hint = schemaAt(path)?.description;
  // Never echo a secret (a JWT secret, a token, the mesh key, a passphrase,
  // a password in a URL): a wrong one is told by its type and length only.
  return `${key}: ${e.message ?? 'is invalid'}, got ${showValue(got, path.some(isSecretKey))}${hint ? `; fix: ${hint}` : ''}`;
}

/** ['mesh', 'peers', '1'] -> 'mesh.peers[1]' */
function keyName(path: string[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  description?: string;
}
function schemaAt(path: string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema as SchemaNode;
  for (const p of path) node = /^\d+$/.test(p) ? node?.items : node?.properties?.[p];
  return node;
}
