/**
 * Hybrid logical clocks (Kulkarni et al., "Logical Physical Clocks and
 * Consistent Snapshots in Globally Distributed Databases", 2014): a
 * timestamp that stays close to wall-clock time yet never goes backwards
 * and always orders an event after every event its node had seen from
 * other nodes. The node that admits an event stamps it once (CloudEvents
 * extension `mghlc`); every node merges the stamps of events its peers
 * send, so a database sink can order two regions' updates of one row.
 *
 * Wire form: 17 lower-case hex digits, fixed width, so that string order
 * is clock order and a sink compares stamps with `<` (or SQL `text`
 * collation "C"):
 *
 *   0             13    17
 *   ┌─────────────┬─────┐
 *   │ physical ms │ lc  │   e.g. 0018bcfe568000004
 *   │ 13 hex      │ 4   │   = 1700000000000 ms, logical counter 4
 *   └─────────────┴─────┘
 *
 * 13 hex digits of milliseconds last until the year 10889; the logical
 * counter counts events within one millisecond (65,536 per ms; past that
 * the clock borrows the next millisecond, as HLC implementations do).
 * Pure: no timers, the caller injects `now`.
 */

/** Length of a formatted stamp. */
export const HLC_LENGTH = 17;
const LOGICAL_DIGITS = 4;
const MAX_LOGICAL = 0xffff;
const HLC_FORMAT = /^[0-9a-f]{17}$/;

/** One clock reading: physical milliseconds and the logical counter. */
export interface HlcTimestamp {
  readonly physical: number;
  readonly logical: number;
}

/** The fixed-width sortable form of a reading. */
export function formatHlc(ts: HlcTimestamp): string {
  return ts.physical.toString(16).padStart(HLC_LENGTH - LOGICAL_DIGITS, '0') + ts.logical.toString(16).padStart(LOGICAL_DIGITS, '0');
}

/** The reading a stamp holds, or null when it is not a well-formed stamp. */
export function parseHlc(text: string): HlcTimestamp | null {
  if (text.length !== HLC_LENGTH || !HLC_FORMAT.test(text)) return null;
  return { physical: Number.parseInt(text.slice(0, HLC_LENGTH - LOGICAL_DIGITS), 16), logical: Number.parseInt(text.slice(HLC_LENGTH - LOGICAL_DIGITS), 16) };
}

/** True for a well-formed `mghlc` value. */
export function isHlc(text: unknown): text is string {
  return typeof text === 'string' && text.length === HLC_LENGTH && HLC_FORMAT.test(text);
}

export interface HybridClockOptions {
  /** Wall clock in ms since the Unix epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * How far (ms) a peer's stamp may run ahead of this node's wall clock
   * before the clock stops following it: a peer with a clock set to next
   * year must not drag every node's stamps with it. Ahead further, the
   * merge follows only up to this bound, and `onClamp` is called.
   * @default 60_000
   */
  readonly maxAheadMs?: number;
  /** Called once per clamped merge (the node counts it). */
  readonly onClamp?: () => void;
}

/**
 * One node's clock. `tick()` stamps an event the node admits; `merge()`
 * folds in the stamp of an event received from a peer.
 *
 * @example
 * const clock = new HybridClock();
 * const stamp = clock.tick();          // '0018bcfe568000000'
 * clock.merge('0018bcfe568010003');    // a peer's event
 * clock.tick() > '0018bcfe568010003'; // true
 */
export class HybridClock {
  readonly #now: () => number;
  readonly #maxAheadMs: number;
  readonly #onClamp: (() => void) | undefined;
  #physical = 0;
  #logical = 0;

  constructor(options: HybridClockOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxAheadMs = options.maxAheadMs ?? 60_000;
    this.#onClamp = options.onClamp;
  }

  /** The last reading handed out or merged (0 before any). */
  get last(): HlcTimestamp {
    return { physical: this.#physical, logical: this.#logical };
  }

  /** A new stamp, greater than every stamp this clock returned or merged before. */
  tick(): string {
    const wall = Math.floor(this.#now());
    if (wall > this.#physical) {
      this.#physical = wall;
      this.#logical = 0;
    } else this.#bump();
    return formatHlc({ physical: this.#physical, logical: this.#logical });
  }

  /**
   * Folds a peer's stamp into the clock (the HLC receive rule), so that the
   * next tick() orders after it. A malformed stamp is ignored (returns
   * false); a stamp too far ahead is followed only up to `maxAheadMs`.
   */
  merge(stamp: string): boolean {
    const remote = parseHlc(stamp);
    if (remote === null) return false;
    const wall = Math.floor(this.#now());
    let { physical, logical } = remote;
    if (physical > wall + this.#maxAheadMs) {
      physical = wall + this.#maxAheadMs;
      logical = 0;
      this.#onClamp?.();
    }
    const prior = this.#physical;
    const top = Math.max(prior, physical, wall);
    if (top === prior && top === physical) this.#logical = Math.max(this.#logical, logical);
    else if (top === physical) this.#logical = logical;
    else if (top !== prior) this.#logical = 0;
    this.#physical = top;
    // The receive rule's "+1" is left to the next tick(): merging many
    // peer events in a row must not exhaust the logical counter.
    return true;
  }

  #bump(): void {
    if (this.#logical < MAX_LOGICAL) this.#logical++;
    else {
      this.#physical++;
      this.#logical = 0;
    }
  }
}
