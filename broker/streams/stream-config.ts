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
