/**
 * The sampling decision, taken before any span exists (issue 17): most
 * events on a sampled deployment record nothing, and for those the SDK's
 * way (random ids per span, a span object, a sampler call with a context)
 * was most of what tracing cost.
 *
 * The policy is read from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
 * exactly as the SDK reads them (sdk-node's createSamplerFromEnv), and the
 * SDK is given the sampler built from the same policy, so the two can
 * never disagree: an event decided "sampled" here is sampled by the SDK
 * too and gets the spans it always had.
 *
 *   parent-based: an incoming traceparent's sampled flag decides;
 *   a root (or a non-parent-based sampler): the trace id decides, as
 *   TraceIdRatioBasedSampler does: the four 32-bit words of the trace id
 *   XORed together, sampled when below ratio * 0xffffffff.
 *
 * Ids for events that arrive without a traceparent come from `TraceIds`:
 * one randomFillSync serves 256 events, hex-encoded through a table into
 * one string that each root is a slice of. The SDK is given the same generator, so a sampled
 * root's span carries the trace id its decision was taken on.
 */
import { randomFillSync } from 'node:crypto';

type Env = Readonly<Record<string, string | undefined>>;

/** The sampler names OTEL_TRACES_SAMPLER may take that the mesh (and sdk-node) understand. */
export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

/** What decides whether an event's spans record. */
export interface SamplingPolicy {
  readonly name: SamplerName;
  /** An incoming traceparent's sampled flag decides (the `parentbased_*` samplers). */
  readonly parentBased: boolean;
  /** Share of root traces sampled, 0..1 (always_on: 1, always_off: 0). */
  readonly ratio: number;
}

/** The SDK's default when OTEL_TRACES_SAMPLER is unset or unknown. */
const DEFAULT_POLICY: SamplingPolicy = { name: 'parentbased_always_on', parentBased: true, ratio: 1 };

/** OTEL_TRACES_SAMPLER_ARG as a ratio; blank, not a number or outside 0..1: 1, as the SDK does. */
function ratioFromEnv(env: Env): number {
  const raw = env.OTEL_TRACES_SAMPLER_ARG;
  if (raw === undefined || raw.trim() === '') return 1;
  const ratio = Number(raw);
  return Number.isNaN(ratio) || ratio < 0 || ratio > 1 ? 1 : ratio;
}

/** The policy OTEL_TRACES_SAMPLER(_ARG) name, read as sdk-node reads them (name taken as given, unknown names: the default). */
export function samplingPolicyFromEnv(env: Env): SamplingPolicy {
  const name = env.OTEL_TRACES_SAMPLER;
  if (name === undefined || name.trim() === '') return DEFAULT_POLICY;
  switch (name) {
    case 'always_on':
      return { name, parentBased: false, ratio: 1 };
    case 'always_off':
      return { name, parentBased: false, ratio: 0 };
    case 'traceidratio':
      return { name, parentBased: false, ratio: ratioFromEnv(env) };
    case 'parentbased_always_on':
      return DEFAULT_POLICY;
    case 'parentbased_always_off':
      return { name, parentBased: true, ratio: 0 };
    case 'parentbased_traceidratio':
      return { name, parentBased: true, ratio: ratioFromEnv(env) };
    default:
      return DEFAULT_POLICY;
  }
}

/** The classes of @opentelemetry/sdk-trace this needs, passed in so the SDK is loaded only when tracing is on. */
export interface SamplerClasses<S> {
  readonly AlwaysOnSampler: new () => S;
  readonly AlwaysOffSampler: new () => S;
  readonly TraceIdRatioBasedSampler: new (ratio: number) => S;
  readonly ParentBasedSampler: new (config: { root: S }) => S;
}

/** The SDK sampler of a policy: the one sdk-node would build from the same variables. */
export function sdkSamplerOf<S>(policy: SamplingPolicy, classes: SamplerClasses<S>): S {
  const root =
    policy.name === 'traceidratio' || policy.name === 'parentbased_traceidratio'
      ? new classes.TraceIdRatioBasedSampler(policy.ratio)
      : policy.ratio === 1
        ? new classes.AlwaysOnSampler()
        : new classes.AlwaysOffSampler();
  return policy.parentBased ? new classes.ParentBasedSampler({ root }) : root;
}

/** TraceIdRatioBasedSampler's bound: a trace is sampled when its folded id is below it. */
function boundOf(ratio: number): number {
  return ratio >= 1 ? 0x100000000 : ratio <= 0 ? 0 : Math.floor(ratio * 0xffffffff);
}

/** The value of one lowercase or uppercase hex digit (the input is known to be hex). */
function hexDigit(c: number): number {
  return c < 58 ? c - 48 : c < 71 ? c - 55 : c - 87;
}

/** TraceIdRatioBasedSampler's fold of a 32-digit hex trace id starting at `at` in `s`. */
function foldHex(s: string, at: number): number {
  let accumulation = 0;
  for (let i = at; i < at + 32; i += 8) {
    let part = 0;
    for (let j = 0; j < 8; j++) part = (part << 4) | hexDigit(s.charCodeAt(i + j));
    accumulation = (accumulation ^ part) >>> 0;
  }
  return accumulation;
}

/** A policy compiled for the per-event decision. */
export class Sampling {
  readonly policy: SamplingPolicy;
  readonly ids: TraceIds;
  readonly #parentBased: boolean;
  readonly #bound: number;

  constructor(policy: SamplingPolicy, ids: TraceIds = new TraceIds()) {
    this.policy = policy;
    this.ids = ids;
    this.#parentBased = policy.parentBased;
    this.#bound = boundOf(policy.ratio);
  }

  /**
   * Whether a span whose parent is the well-formed `traceparent` records.
   * Version 00 and later versions share the layout read here (a later
   * version may only append fields); parseTraceParent also accepts one
   * leading space.
   */
  sampledChild(traceparent: string): boolean {
    const at = traceparent.charCodeAt(2) === 45 ? 0 : 1;
    if (this.#parentBased) return (hexDigit(traceparent.charCodeAt(at + 54)) & 1) === 1;
    return foldHex(traceparent, at + 3) < this.#bound;
  }

  /** Whether a root whose trace id folds to `fold` records. */
  sampledRoot(fold: number): boolean {
    return fold < this.#bound;
  }
}

/** Bytes of randomness drawn at once for the SDK's ids (sampled spans only): 512 span ids per draw. */
const POOL_BYTES = 4096;
/** Roots rendered per draw: 24 random bytes each (trace id, span id), one randomFillSync and one string per 256. */
const ROOTS_PER_DRAW = 256;
const ROOT_BYTES = 24;
/** `00-<32 hex>-<16 hex>-00` */
const ROOT_TEXT = 55;

/** Whether Uint32Array reads words little-endian (every platform Node runs on today but s390x). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Per byte, its two lowercase hex digits as latin1 codes (low byte first). */
const HEX_PAIRS = (() => {
  const pairs = new Uint16Array(256);
  const digits = '0123456789abcdef';
  for (let i = 0; i < 256; i++) pairs[i] = digits.charCodeAt(i >> 4) | (digits.charCodeAt(i & 15) << 8);
  return pairs;
})();

/**
 * Random W3C trace and span ids from a pooled buffer. Also the SDK's
 * IdGenerator, so that the span of a sampled root uses the trace id its
 * sampling was decided on (`claimRoot`).
 *
 * Roots are rendered 256 at a time: one randomFillSync, the hex of all
 * 256 traceparents written into one latin1 buffer through a table, one
 * string made of it, and each root a slice of that string. A slice is
 * O(1) in V8 (it points into the batch string), where a string per root
 * (Buffer.toString per event) was half of what an unsampled root cost.
 * The price: a root kept for long (in a memory stream) keeps its batch's
 * 14 KiB string alive until every root of the batch is gone.
 */
export class TraceIds {
  readonly #pool = Buffer.allocUnsafe(POOL_BYTES);
  #at = POOL_BYTES;
  readonly #rootBytes = new Uint8Array(ROOTS_PER_DRAW * ROOT_BYTES);
  readonly #rootWords = new Uint32Array(this.#rootBytes.buffer);
  /** ROOTS_PER_DRAW copies of `00-<32 hex>-<16 hex>-00` back to back, rewritten in place per draw. */
  readonly #rootText = Buffer.from(`00-${'0'.repeat(32)}-${'0'.repeat(16)}-00`.repeat(ROOTS_PER_DRAW), 'latin1');
  readonly #folds = new Uint32Array(ROOTS_PER_DRAW);
  #roots = '';
  #nextRoot = ROOTS_PER_DRAW;
  /** The trace id of the root being started, for the SDK's next generateTraceId. */
  #claimed: string | undefined;
  /** The fold of the last root drawn (see `root`). */
  fold = 0;

  /** The offset of `n` fresh random bytes in the pool, refilling it when used up. */
  #take(n: number): number {
    if (this.#at + n > POOL_BYTES) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    const at = this.#at;
    this.#at += n;
    return at;
  }

  /** Draws and renders the next ROOTS_PER_DRAW roots. Neither id of a root is ever all zeros (redrawn, at odds of 2^-64 or less). */
  #drawRoots(): void {
    // Word and byte reads on typed arrays, not Buffer.readUInt32BE: its
    // argument checks were most of this loop's time.
    const raw = this.#rootBytes;
    const w = this.#rootWords;
    const text = this.#rootText;
    const folds = this.#folds;
    const hex = HEX_PAIRS;
    randomFillSync(raw);
    for (let r = 0; r < ROOTS_PER_DRAW; r++) {
      const wi = r * (ROOT_BYTES / 4);
      while ((w[wi] | w[wi + 1] | w[wi + 2] | w[wi + 3]) === 0 || (w[wi + 4] | w[wi + 5]) === 0) randomFillSync(raw, r * ROOT_BYTES, ROOT_BYTES);
      // XOR works bytewise, so the XOR of the host-order words is the
      // big-endian fold with its bytes in host order.
      const x = w[wi] ^ w[wi + 1] ^ w[wi + 2] ^ w[wi + 3];
      folds[r] = LITTLE_ENDIAN ? (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0 : x >>> 0;
      let from = r * ROOT_BYTES;
      let into = r * ROOT_TEXT + 3;
      for (let i = 0; i < 16; i++, into += 2) {
        const pair = hex[raw[from + i]];
        text[into] = pair & 0xff;
        text[into + 1] = pair >> 8;
      }
      into++; // the '-' between the ids
      from += 16;
      for (let i = 0; i < 8; i++, into += 2) {
        const pair = hex[raw[from + i]];
        text[into] = pair & 0xff;
        text[into + 1] = pair >> 8;
      }
    }
    this.#roots = text.toString('latin1');
    this.#nextRoot = 0;
  }

  /**
   * A fresh root context as a `traceparent` with the sampled flag clear,
   * setting `fold` to its trace id's TraceIdRatioBased fold.
   */
  root(): string {
    if (this.#nextRoot === ROOTS_PER_DRAW) this.#drawRoots();
    const r = this.#nextRoot++;
    this.fold = this.#folds[r];
    return this.#roots.slice(r * ROOT_TEXT, r * ROOT_TEXT + ROOT_TEXT);
  }

  /** Makes the SDK's next generateTraceId return this root's trace id, for a sampled root started right after. */
  claimRoot(traceparent: string): void {
    this.#claimed = traceparent.slice(3, 35);
  }

  /** Drops a claim the SDK did not take, so that no later trace reuses its id. */
  clearClaim(): void {
    this.#claimed = undefined;
  }

  #id(bytes: number): string {
    const pool = this.#pool;
    for (;;) {
      const at = this.#take(bytes);
      let nonZero = 0;
      for (let i = 0; i < bytes; i++) nonZero |= pool[at + i];
      if (nonZero !== 0) return pool.toString('hex', at, at + bytes);
    }
  }

  /** IdGenerator: the claimed root's trace id, else a fresh one. */
  generateTraceId(): string {
    const claimed = this.#claimed;
    if (claimed === undefined) return this.#id(16);
    this.#claimed = undefined;
    return claimed;
  }

  /** IdGenerator: a fresh span id. */
  generateSpanId(): string {
    return this.#id(8);
  }
}
