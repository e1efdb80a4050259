/** Durable consumer options: defaults and the one check, done when a consumer is created or bound. */
import { filterCovers } from '../../routing/mod.js';
import { MeshError } from '../base/mod.js';
import type { ConsumerConfig } from './consumer-position.js';

/** Where a new consumer starts; used only when it is created (a bound one continues from its ack floor). */
export type ConsumerStart = 'first' | 'new' | { readonly offset: number } | { readonly time: number };

export interface ConsumerOptions {
  /** A filter covered by one of the stream's filters; entries it does not match count as acked. @default every entry */
  readonly filter?: string;
  /** Redeliver a delivery not acked within this many ms. @default 30_000 */
  readonly ackWaitMs?: number;
  /** Most deliveries outstanding at once. @default 1000 */
  readonly maxInFlight?: number;
  /** @default 'first' */
  readonly start?: ConsumerStart;
}

export const CONSUMER_DEFAULTS = Object.freeze({ ackWaitMs: 30_000, maxInFlight: 1000 });
/** Bounds: a wait of a day at most, and in flight no more than one connection's worth of frames should hold. */
export const CONSUMER_LIMITS = Object.freeze({ maxAckWaitMs: 86_400_000, maxInFlight: 100_000 });

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

function invalid(message: string): MeshError {
  return new MeshError('MG_ERR_CONSUMER_INVALID', message);
}

/** Throws MG_ERR_CONSUMER_INVALID naming the option and the fix. */
export function checkConsumerName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) throw invalid(`consumer name: expected 1-64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(name)}`);
}

function whole(key: string, v: unknown, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`consumer.${key}: expected a whole number ${min}-${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * The config a consumer of a stream with `streamFilters` gets from
 * `options`. `checkFilter` is the node's filter syntax check (message or null).
 */
export function resolveConsumerConfig(
  options: ConsumerOptions,
  streamFilters: readonly string[],
  checkFilter: (filter: string) => string | null,
): ConsumerConfig {
  const ackWaitMs = whole('ackWaitMs', options.ackWaitMs, 1, CONSUMER_LIMITS.maxAckWaitMs, CONSUMER_DEFAULTS.ackWaitMs);
  const maxInFlight = whole('maxInFlight', options.maxInFlight, 1, CONSUMER_LIMITS.maxInFlight, CONSUMER_DEFAULTS.maxInFlight);
  let filter: string | null = null;
  if (options.filter !== undefined) {
    if (typeof options.filter !== 'string') throw invalid(`consumer.filter: expected a topic filter, got ${JSON.stringify(options.filter)}`);
    const problem = checkFilter(options.filter);
    if (problem !== null) throw invalid(`consumer.filter: ${problem}`);
    if (!streamFilters.some((f) => filterCovers(f, options.filter!))) {
      throw invalid(`consumer.filter: '${options.filter}' is not within the stream's filters (${streamFilters.join(', ')}); fix: narrow it to one of them`);
    }
    // The stream's own filter set is "every entry": no per-entry match needed.
    filter = streamFilters.length === 1 && streamFilters[0] === options.filter ? null : options.filter;
  }
  return { filter, ackWaitMs, maxInFlight };
}

export function sameConsumerConfig(a: ConsumerConfig, b: ConsumerConfig): boolean {
  return a.filter === b.filter && a.ackWaitMs === b.ackWaitMs && a.maxInFlight === b.maxInFlight;
}
