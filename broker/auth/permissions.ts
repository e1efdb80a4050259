import { checkFilter, filterCovers, filterMatches, type TopicLimits } from '../../routing/mod.js';
import { filtersOverlap } from './filter-overlap.js';

/**
 * Reserved internal topics: `_mg.` and below (dead letters, system
 * events). A reserved topic is granted only by an allow filter whose first
 * token is literally `_mg` (`_mg.>`, `_mg.dlq.*`): `>` or `*.dlq` alone
 * never grant it. Publishing on the topics only nodes write (dead letters,
 * `_mg.sys.`) is refused at ingest whatever the rights (reserved-topics.ts):
 * that rule holds with auth off too, so it is not here.
 */
export const RESERVED_TOKEN = '_mg';
export const RESERVED_PREFIX = `${RESERVED_TOKEN}.`;

/** One direction's rights as a token or config carries them: allow and deny filters; deny wins. */
export interface RuleSpec {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/**
 * What a principal may do. `pub` and `sub` are either a rule object or a
 * plain list (the allow list). A missing direction allows nothing.
 *
 * @example
 * { pub: ['orders.>'], sub: { allow: ['>'], deny: ['payroll.>'] } }
 */
export interface PermissionSpec {
  readonly pub?: RuleSpec | readonly string[];
  readonly sub?: RuleSpec | readonly string[];
}

/** A subscription's standing: every event it can match is readable, some are, or none. */
export type SubscribeRight = 'full' | 'partial' | 'none';

/** Limits on filters inside permissions (generous: they come from the operator or a signed token). */
const PERMISSION_FILTER_LIMITS: TopicLimits = Object.freeze({ maxLength: 1024, maxTokens: 64, maxWildcards: 64 });
/** Filters per direction and kind; a token with more is refused. */
export const MAX_PERMISSION_FILTERS = 256;
const CACHE_ENTRIES = 4096;

/** Allow and deny filters of one direction, with a bounded topic -> verdict cache. */
class Rules {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  /** Allow filters that may grant reserved topics. */
  readonly #explicit: readonly string[];
  readonly #cache = new Map<string, boolean>();

  constructor(spec: RuleSpec) {
    this.allow = spec.allow ?? [];
    this.deny = spec.deny ?? [];
    this.#explicit = this.allow.filter(isExplicitReserved);
  }

  /** Whether this concrete topic is allowed. */
  permits(topic: string): boolean {
    const hit = this.#cache.get(topic);
    if (hit !== undefined) return hit;
    const verdict = this.#decide(topic);
    // Bounded: a client walking random topics cannot grow it past CACHE_ENTRIES.
    if (this.#cache.size >= CACHE_ENTRIES) this.#cache.clear();
    this.#cache.set(topic, verdict);
    return verdict;
  }

  #decide(topic: string): boolean {
    for (const d of this.deny) if (filterMatches(d, topic)) return false;
    const allow = topic.startsWith(RESERVED_PREFIX) ? this.#explicit : this.allow;
    for (const a of allow) if (filterMatches(a, topic)) return true;
    return false;
  }

  /**
   * full: every topic `filter` matches is permitted; none: no topic is;
   * partial: otherwise (or when we cannot cheaply prove full).
   */
  standing(filter: string): SubscribeRight {
    for (const d of this.deny) if (filterCovers(d, filter)) return 'none';
    const first = firstToken(filter);
    const tokens = first === filter ? 1 : 2; // only "one token or more" matters here
    const reservedOnly = first === RESERVED_TOKEN && tokens > 1;
    const eligible = reservedOnly ? this.#explicit : this.allow;
    if (!eligible.some((a) => filtersOverlap(a, filter))) return 'none';
    if (this.deny.some((d) => filtersOverlap(d, filter))) return 'partial';
    if (first !== '*' && first !== '>') return eligible.some((a) => filterCovers(a, filter)) ? 'full' : 'partial';
    // A wildcard first token spans ordinary and reserved topics: both parts must be covered.
    if (!this.allow.some((a) => !isExplicitReserved(a) && filterCovers(a, filter))) return 'partial';
    const reservedPart = reservedSlice(filter);
    if (reservedPart === null) return 'full';
    return this.#explicit.some((a) => filterCovers(a, reservedPart)) ? 'full' : 'partial';
  }
}

/**
 * Publish and subscribe rights of one principal, as topic filters with
 * deny precedence. Pure: no I/O, verdicts cached per topic (bounded).
 *
 * @example
 * const p = Permissions.fromSpec({ pub: ['a.>'], sub: { allow: ['>'], deny: ['a.secret'] } });
 * p.canPublish('a.b');       // true
 * p.canSubscribe('>');       // 'partial': deliveries are checked with canRead
 * p.canRead('a.secret');     // false
 */
export class Permissions {
  /** Everything, reserved topics included. */
  static readonly ALL = new Permissions({ allow: ['>', '_mg.>'] }, { allow: ['>', '_mg.>'] });

  readonly #pub: Rules;
  readonly #sub: Rules;

  private constructor(pub: RuleSpec, sub: RuleSpec) {
    this.#pub = new Rules(pub);
    this.#sub = new Rules(sub);
  }

  /**
   * Checks and compiles a spec. Returns a reason string when a filter is
   * not a valid mesh filter or a list is too long.
   */
  static fromSpec(spec: PermissionSpec): Permissions | string {
    const pub = normalize(spec.pub, 'pub');
    if (typeof pub === 'string') return pub;
    const sub = normalize(spec.sub, 'sub');
    if (typeof sub === 'string') return sub;
    return new Permissions(pub, sub);
  }

  canPublish(topic: string): boolean {
    return this.#pub.permits(topic);
  }

  /** Whether an event on `topic` may be delivered to this principal. */
  canRead(topic: string): boolean {
    return this.#sub.permits(topic);
  }

  canSubscribe(filter: string): SubscribeRight {
    return this.#sub.standing(filter);
  }

  /** The filters, for logs and /v1/stats, and `sub` for narrowing a partial subscription's interest (narrow-filter.ts). */
  describe(): { pub: RuleSpec; sub: RuleSpec } {
    return { pub: { allow: this.#pub.allow, deny: this.#pub.deny }, sub: { allow: this.#sub.allow, deny: this.#sub.deny } };
  }
}

function normalize(raw: unknown, name: string): RuleSpec | string {
  if (raw === undefined || raw === null) return {};
  const spec: { allow?: unknown; deny?: unknown } = Array.isArray(raw)
    ? { allow: raw }
    : typeof raw === 'object'
      ? (raw as Record<string, unknown>)
      : { allow: 'x' };
  const out: { allow?: string[]; deny?: string[] } = {};
  for (const kind of ['allow', 'deny'] as const) {
    const list = spec[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return `${name}.${kind}: expected a list of topic filters`;
    if (list.length > MAX_PERMISSION_FILTERS) return `${name}.${kind}: more than ${MAX_PERMISSION_FILTERS} filters`;
    for (const f of list) {
      if (typeof f !== 'string') return `${name}.${kind}: expected topic filter strings`;
      const problem = checkFilter(f, PERMISSION_FILTER_LIMITS);
      if (problem !== null) return `${name}.${kind}: ${problem.message}`;
    }
    out[kind] = [...(list as string[])];
  }
  if (Array.isArray(raw)) return out;
  const extra = Object.keys(raw as object).filter((k) => k !== 'allow' && k !== 'deny');
  if (extra.length > 0) return `${name}: unknown key ${extra[0]}; use allow and deny`;
  return out;
}

function firstToken(filter: string): string {
  const dot = filter.indexOf('.');
  return dot < 0 ? filter : filter.slice(0, dot);
}

/** Whether `filter` names `_mg` as its first token, the only way an allow filter grants reserved topics. */
export function isExplicitReserved(filter: string): boolean {
  return filter === RESERVED_TOKEN || filter.startsWith(RESERVED_PREFIX);
}

/**
 * The reserved topics a wildcard-first filter matches, as a filter, or null
 * when it matches none: `>` -> `_mg.>`, `*.x` -> `_mg.x`, `*` -> none (a
 * single token `_mg` is not reserved).
 */
function reservedSlice(filter: string): string | null {
  if (filter === '>') return `${RESERVED_PREFIX}>`;
  if (filter === '*') return null;
  return RESERVED_TOKEN + filter.slice(1);
}
