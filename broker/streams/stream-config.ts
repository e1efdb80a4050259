/** Stream configuration: defaults and the one check, done at create(). */
import { MeshError } from '../base/mod.js';
import type { StreamConfig } from './stream-store.js';

export const STREAM_DEFAULTS = Object.freeze({ filters: [] as readonly string[], maxAgeMs: 0, maxBytes: 0, maxEvents: 0 });

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

function limit(key: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new MeshError('MG_ERR_STREAM_INVALID', `stream.${key}: expected a whole number >= 0 (0 = no limit), got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Resolves defaults; throws MG_ERR_STREAM_INVALID naming the key and the fix. */
export function resolveStreamConfig(c: StreamConfig): Required<StreamConfig> {
  if (typeof c?.name !== 'string' || !NAME.test(c.name)) {
    throw new MeshError('MG_ERR_STREAM_INVALID', `stream.name: expected 1-64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(c?.name)}`);
  }
  const filters = c.filters ?? STREAM_DEFAULTS.filters;
  if (!Array.isArray(filters) || filters.some((f) => typeof f !== 'string' || f === '')) {
    throw new MeshError('MG_ERR_STREAM_INVALID', `stream.filters: expected an array of non-empty topic filters, got ${JSON.stringify(filters)}`);
  }
  return Object.freeze({
    name: c.name,
    filters: Object.freeze([...filters]),
    maxAgeMs: limit('maxAgeMs', c.maxAgeMs),
    maxBytes: limit('maxBytes', c.maxBytes),
    maxEvents: limit('maxEvents', c.maxEvents),
  });
}

export function sameConfig(a: Required<StreamConfig>, b: Required<StreamConfig>): boolean {
  return (
    a.maxAgeMs === b.maxAgeMs &&
    a.maxBytes === b.maxBytes &&
    a.maxEvents === b.maxEvents &&
    a.filters.length === b.filters.length &&
    a.filters.every((f, i) => f === b.filters[i])
  );
}

/** A create() of a stream that exists: the same configuration is a no-op, another is refused (MG_ERR_STREAM_EXISTS). */
export function refuseOtherConfig(had: Required<StreamConfig>, wanted: Required<StreamConfig>): void {
  if (!sameConfig(had, wanted)) {
    throw new MeshError('MG_ERR_STREAM_EXISTS', `stream ${wanted.name} exists with another configuration; remove it first or use the same one`);
  }
}

const DURATION = /^([0-9]+)(ms|s|m|h|d)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A stream as a config file or the HTTP API gives it, `maxAge` in ms or as
 * a duration ('90s', '15m', '24h', '7d'), to a StreamConfig. Throws
 * MG_ERR_STREAM_INVALID naming `${key}.<field>` and the fix.
 * @example
 * streamConfigFromEntry({ name: 'orders', filters: ['orders.>'], maxAge: '24h' }) // maxAgeMs 86_400_000
 */
export function streamConfigFromEntry(entry: unknown, key = 'stream', options: { mirror?: boolean } = {}): StreamConfig {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new MeshError('MG_ERR_STREAM_INVALID', `${key}: expected an object {name, filters, maxAge?, maxBytes?, maxEvents?}`);
  }
  const e = entry as Record<string, unknown>;
  const known = ['name', 'filters', 'maxAge', 'maxBytes', 'maxEvents', ...(options.mirror ? ['mirror'] : [])];
  const extra = Object.keys(e).find((k) => !known.includes(k));
  if (extra !== undefined) throw new MeshError('MG_ERR_STREAM_INVALID', `${key}.${extra}: unknown key; fix: remove it or use one of: ${known.join(', ')}`);
  const age = e.maxAge;
  let maxAgeMs: number;
  if (age === undefined) maxAgeMs = 0;
  else if (typeof age === 'number' && Number.isSafeInteger(age) && age >= 0) maxAgeMs = age;
  else {
    const m = typeof age === 'string' ? DURATION.exec(age) : null;
    maxAgeMs = m === null ? Number.NaN : Number(m[1]) * UNIT_MS[m[2]!]!;
    if (!Number.isSafeInteger(maxAgeMs)) {
      throw new MeshError(
        'MG_ERR_STREAM_INVALID',
        `${key}.maxAge: expected milliseconds or a duration like '90s', '15m', '24h', '7d', got ${JSON.stringify(age)}`,
      );
    }
  }
  try {
    return resolveStreamConfig({
      name: e.name as string,
      filters: e.filters as string[],
      maxAgeMs,
      maxBytes: e.maxBytes as number,
      maxEvents: e.maxEvents as number,
    });
  } catch (err) {
    if (err instanceof MeshError && err.message.startsWith('stream.')) {
      throw new MeshError(err.code, `${key}.${err.message.slice('stream.'.length)}`, { cause: err });
    }
    throw err;
  }
}

/** Where a mirror reads from: a stream a peer holds. */
export interface MirrorSource {
  /** The stream's name on the node that holds it. */
  readonly stream: string;
  /** Only this node; none: any peer that advertises the stream. */
  readonly node?: string;
}

/** A config-file stream: a stream of its own, or a mirror of a peer's (then it has no filters). */
export type StreamEntryConfig = StreamConfig & { readonly mirror?: MirrorSource };

/**
 * A config file's `streams[i]`: streamConfigFromEntry, plus `mirror`
 * ({stream, node?}, instead of filters). Throws MG_ERR_STREAM_INVALID
 * naming `${key}.<field>` and the fix.
 */
export function streamEntryFromConfig(entry: unknown, key: string): StreamEntryConfig {
  const mirror = (entry as { mirror?: unknown } | null)?.mirror;
  const c = streamConfigFromEntry(entry, key, { mirror: true });
  if (mirror === undefined) {
    if ((c.filters ?? []).length === 0) {
      throw new MeshError('MG_ERR_STREAM_INVALID', `${key}.filters: expected at least one topic filter, e.g. ["orders.>"] (or mirror: {stream} for a mirror)`);
    }
    return c;
  }
  const m = mirror as Record<string, unknown> | null;
  if (
    m === null ||
    typeof m !== 'object' ||
    typeof m.stream !== 'string' ||
    !NAME.test(m.stream) ||
    (m.node !== undefined && (typeof m.node !== 'string' || m.node === ''))
  ) {
    throw new MeshError('MG_ERR_STREAM_INVALID', `${key}.mirror: expected {stream: the peer's stream name, node?: a node id}, got ${JSON.stringify(mirror)}`);
  }
  if (c.filters !== undefined && c.filters.length > 0) {
    throw new MeshError('MG_ERR_STREAM_INVALID', `${key}.filters: a mirror takes its entries from the stream it mirrors; fix: remove filters or mirror`);
  }
  return { ...c, mirror: m.node === undefined ? { stream: m.stream } : { stream: m.stream, node: m.node as string } };
}
