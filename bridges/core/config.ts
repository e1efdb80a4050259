import { createHash } from 'node:crypto';
import { MeshError } from '../../broker/mod.js';
import { checkFilter, TopicError } from '../../routing/mod.js';
import { literalPrefix, TopicMapping } from './mapping.js';
import type { TopicDialect } from './topic-dialect.js';

/** Bridge protocols. */
export type BridgeType = 'mqtt' | 'amqp' | 'nats';

/** CloudEvents content mode used on export. */
export type ContentMode = 'binary' | 'structured';

/** One `bridges[]` entry as the config file gives it (schemas/config.schema.json has checked the types). */
export interface BridgeEntry {
  readonly type: BridgeType;
  readonly url: string;
  readonly name?: string;
  readonly brokerId?: string;
  readonly username?: string;
  readonly password?: string;
  readonly import?: ReadonlyArray<{ broker: string; mesh: string; always?: boolean }>;
  readonly export?: ReadonlyArray<{ mesh: string; broker: string }>;
  readonly protocolVersion?: 4 | 5;
  readonly mode?: ContentMode;
  readonly clientId?: string;
  readonly exchange?: string;
  readonly queue?: string;
  readonly prefetch?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly maxPendingExports?: number;
  readonly maxExportBytes?: number;
}

export interface ImportMapping {
  readonly mapping: TopicMapping;
  /** Stay subscribed regardless of interest. */
  readonly always: boolean;
}

/** A checked, defaulted bridge entry. Built once at start-up; never changes. */
export interface BridgeSpec {
  /** Position in `bridges[]`, for messages. */
  readonly index: number;
  readonly type: BridgeType;
  /** Label in /v1/bridges and metrics. @default `${type}-${index}` */
  readonly name: string;
  /** The URL as configured, credentials included: only the client library sees it. */
  readonly url: string;
  /** The URL without credentials, for status and logs. */
  readonly displayUrl: string;
  /** Broker identity shared by every node bridging it. @default `${type}://${host}:${port}` */
  readonly brokerId: string;
  readonly username?: string;
  readonly password?: string;
  readonly imports: readonly ImportMapping[];
  readonly exports: readonly TopicMapping[];
  /** MQTT protocol level. @default 5 */
  readonly protocolVersion: 4 | 5;
  /** @default 'binary' ('structured' for MQTT 3.1.1) */
  readonly mode: ContentMode;
  /** MQTT persistent-session client id. @default `mg-${hash(node id)}-${index}` */
  readonly clientId: string;
  /** AMQP topic exchange. @default 'amq.topic' */
  readonly exchange: string;
  /** AMQP durable queue. @default `meshgate.${nodeId}.${name}` */
  readonly queue: string;
  /** AMQP consumer prefetch. @default 1000 */
  readonly prefetch: number;
  /** First reconnect delay, and first pause before failed exports are sent again, ms. @default 100 */
  readonly backoffMinMs: number;
  /** Longest reconnect delay, and longest pause before failed exports are sent again, ms. @default 5000 */
  readonly backoffMaxMs: number;
  /** Exports held while the broker is down (MQTT, AMQP). @default 100_000 */
  readonly maxPendingExports: number;
  /**
   * Largest encoded payload the bridge exports, bytes (MQTT PUBLISH
   * payload, AMQP body, NATS payload without headers); a larger export is
   * refused before sending (core/export-size.ts). For brokers that drop
   * oversized messages without saying so (mosquitto `message_size_limit`
   * under MQTT 3.1.1): set it to that limit. @default undefined (no limit)
   */
  readonly maxExportBytes: number | undefined;
}

export const BRIDGE_DEFAULTS = Object.freeze({
  protocolVersion: 5 as const,
  exchange: 'amq.topic',
  prefetch: 1000,
  backoffMinMs: 100,
  backoffMaxMs: 5000,
  maxPendingExports: 100_000,
});

const DEFAULT_PORTS: Readonly<Record<string, number>> = { mqtt: 1883, mqtts: 8883, amqp: 5672, amqps: 5671, nats: 4222, tls: 4222 };
const SCHEMES: Readonly<Record<BridgeType, readonly string[]>> = { mqtt: ['mqtt', 'mqtts'], amqp: ['amqp', 'amqps'], nats: ['nats', 'tls'] };

function invalid(key: string, message: string): MeshError {
  return new MeshError('MG_ERR_CONFIG_INVALID', `invalid configuration:\n  ${key}: ${message}`);
}

/**
 * Checks one entry (beyond the JSON Schema: URL scheme per type, mode per
 * protocol version, mappings translatable; and, for entries that never
 * met the schema, maxExportBytes) and fills in the defaults.
 * Throws MeshError MG_ERR_CONFIG_INVALID naming the key and the fix, the
 * same way broker/config.ts reports.
 *
 * @example
 * resolveBridge({ type: 'mqtt', url: 'mqtt://127.0.0.1:1883' }, 0, 'eu-1', MQTT_DIALECT);
 */
export function resolveBridge(entry: BridgeEntry, index: number, nodeId: string, dialect: TopicDialect): BridgeSpec {
  const at = `bridges[${index}]`;
  let url: URL;
  try {
    url = new URL(entry.url);
  } catch {
    throw invalid(`${at}.url`, `not a URL, got ${JSON.stringify(entry.url)}; fix: e.g. ${entry.type}://127.0.0.1:${DEFAULT_PORTS[entry.type]}`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!SCHEMES[entry.type].includes(scheme)) {
    throw invalid(`${at}.url`, `scheme ${scheme}:// does not fit type ${entry.type}; fix: use ${SCHEMES[entry.type].map((s) => `${s}://`).join(' or ')}`);
  }
  if (url.hostname === '') throw invalid(`${at}.url`, `no host in ${JSON.stringify(entry.url)}; fix: e.g. ${entry.type}://127.0.0.1:${DEFAULT_PORTS[scheme]}`);
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  const display = new URL(url.href);
  display.username = '';
  display.password = '';
  const protocolVersion = entry.protocolVersion ?? BRIDGE_DEFAULTS.protocolVersion;
  for (const key of ['protocolVersion', 'clientId'] as const) {
    if (entry[key] !== undefined && entry.type !== 'mqtt') throw invalid(`${at}.${key}`, `applies to MQTT bridges only; fix: remove it`);
  }
  for (const key of ['tables', 'slot', 'publication', 'topic', 'snapshot', 'snapshotChunkRows', 'heartbeatMs', 'maxInFlight']) {
    if ((entry as unknown as Record<string, unknown>)[key] !== undefined)
      throw invalid(`${at}.${key}`, `applies to postgres-source bridges only; fix: remove it`);
  }
  for (const key of ['filter', 'stream', 'batchSize']) {
    if ((entry as unknown as Record<string, unknown>)[key] !== undefined)
      throw invalid(`${at}.${key}`, `applies to postgres-sink bridges only; fix: remove it`);
  }
  for (const key of ['exchange', 'queue', 'prefetch'] as const) {
    if (entry[key] !== undefined && entry.type !== 'amqp') throw invalid(`${at}.${key}`, `applies to AMQP bridges only; fix: remove it`);
  }
  if (entry.type === 'mqtt' && protocolVersion === 4 && entry.mode === 'binary') {
    throw invalid(
      `${at}.mode`,
      `MQTT 3.1.1 has no binary content mode (no user properties, CloudEvents MQTT binding §3.1); fix: set mode: structured or protocolVersion: 5`,
    );
  }
  const mode: ContentMode = entry.mode ?? (entry.type === 'mqtt' && protocolVersion === 4 ? 'structured' : 'binary');
  const name = entry.name ?? `${entry.type}-${index}`;
  const backoffMinMs = entry.backoffMinMs ?? BRIDGE_DEFAULTS.backoffMinMs;
  const backoffMaxMs = entry.backoffMaxMs ?? BRIDGE_DEFAULTS.backoffMaxMs;
  if (backoffMaxMs < backoffMinMs)
    throw invalid(`${at}.backoffMaxMs`, `must be >= backoffMinMs (${backoffMinMs}), got ${backoffMaxMs}; fix: raise it or lower backoffMinMs`);
  // The config file's schema refuses these too, alongside every other wrong key; this covers entries given in code
  // (startBridges), where a 0 or a string would otherwise refuse every export or none.
  const maxExportBytes = entry.maxExportBytes;
  if (maxExportBytes !== undefined && !(Number.isSafeInteger(maxExportBytes) && maxExportBytes >= 1)) {
    throw invalid(
      `${at}.maxExportBytes`,
      `must be a whole number of bytes >= 1, got ${JSON.stringify(maxExportBytes)}; fix: the broker's limit (mosquitto message_size_limit, RabbitMQ max_message_size), e.g. 1048576, or remove the key for no limit`,
    );
  }

  const imports = (entry.import ?? [{ broker: dialect.everything, mesh: '>' }]).map((m, i) => ({
    mapping: compileMapping(`${at}.import[${i}]`, m.mesh, m.broker, dialect, true),
    always: m.always === true,
  }));
  const exports = (entry.export ?? [{ mesh: '>', broker: dialect.everything }]).map((m, i) =>
    compileMapping(`${at}.export[${i}]`, m.mesh, m.broker, dialect, false),
  );
  const nodeHash = createHash('sha256').update(nodeId).digest('hex').slice(0, 12);

  return Object.freeze({
    index,
    type: entry.type,
    name,
    url: entry.url,
    displayUrl: display.href,
    brokerId: entry.brokerId ?? `${entry.type}://${url.hostname}:${port}`,
    username: entry.username ?? (url.username === '' ? undefined : decodeURIComponent(url.username)),
    password: entry.password ?? (url.password === '' ? undefined : decodeURIComponent(url.password)),
    imports,
    exports,
    protocolVersion,
    mode,
    clientId: entry.clientId ?? `mg-${nodeHash}-${index}`,
    exchange: entry.exchange ?? BRIDGE_DEFAULTS.exchange,
    queue: entry.queue ?? `meshgate.${nodeId}.${name}`,
    prefetch: entry.prefetch ?? BRIDGE_DEFAULTS.prefetch,
    backoffMinMs,
    backoffMaxMs,
    maxPendingExports: entry.maxPendingExports ?? BRIDGE_DEFAULTS.maxPendingExports,
    maxExportBytes,
  });
}

/** Validates both sides of one mapping and builds its prefix rewrite. */
function compileMapping(at: string, mesh: string, broker: string, dialect: TopicDialect, isImport: boolean): TopicMapping {
  const problem = checkFilter(mesh);
  if (problem !== null) throw invalid(`${at}.mesh`, `${problem.message}; fix: a mesh filter such as db.> or iot.*.temp`);
  let brokerSide: string;
  try {
    const filters = dialect.filterToMesh(broker);
    brokerSide = filters[filters.length - 1];
  } catch (err) {
    if (err instanceof TopicError) throw invalid(`${at}.broker`, `${err.message}; fix: a ${isImport ? 'filter' : 'topic prefix'} in the broker's syntax`);
    throw err;
  }
  const bTokens = brokerSide.split('.');
  const mTokens = mesh.split('.');
  const bPrefix = literalPrefix(bTokens);
  const mPrefix = literalPrefix(mTokens);
  const bRest = bTokens.slice(bPrefix).join('.');
  const mRest = mTokens.slice(mPrefix).join('.');
  if (bRest !== '' && bRest !== mRest) {
    throw invalid(
      `${at}`,
      `broker ${JSON.stringify(broker)} and mesh ${JSON.stringify(mesh)} differ after their literal prefixes (${JSON.stringify(bRest)} vs ${JSON.stringify(mRest)}); ` +
        `fix: give both the same wildcard part, e.g. broker sensors/+/temp with mesh iot.*.temp, or give the broker side as a plain prefix`,
    );
  }
  if (bPrefix === 0 && mRest === '') {
    throw invalid(`${at}.broker`, `maps the literal mesh topic ${JSON.stringify(mesh)} onto an empty broker topic; fix: give a broker topic`);
  }
  if (mPrefix === 0 && mRest === '') throw invalid(`${at}.mesh`, `is empty; fix: a mesh filter such as db.>`);
  return new TopicMapping(mesh, bTokens.slice(0, bPrefix));
}
