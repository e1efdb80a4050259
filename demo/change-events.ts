/**
 * Realistic database change events for the demo: a shop's `orders` and
 * `customers` tables, with inserts, updates and deletes, in a
 * Debezium-style envelope (before / after / op / source / ts_ms).
 *
 *   topic          db.<table>.<insert|update|delete>     e.g. db.orders.update
 *   type           io.debezium.<table>.<c|u|d>
 *   subject        the row's primary key
 *   data           { before, after, op, source: { connector, db, schema, table, lsn, txId, ts_ms }, ts_ms }
 *
 * Deterministic for a given seed so a demo run (and a test) is repeatable.
 */
import type { OutgoingEvent } from '../client/mod.js';

export interface ChangeEvent {
  readonly topic: string;
  readonly event: OutgoingEvent;
}

type Row = Record<string, unknown>;
const STATUSES = ['pending', 'paid', 'packed', 'shipped', 'delivered'];
const CITIES = ['Lisbon', 'Dublin', 'Frankfurt', 'Austin', 'Toronto', 'Singapore', 'Sydney', 'Osaka', 'São Paulo', 'Nairobi'];
const FIRST = ['Ana', 'Ben', 'Chen', 'Dara', 'Emeka', 'Fatima', 'Gus', 'Hana', 'Ivan', 'Jia', 'Kofi', 'Lena'];
const LAST = ['Silva', 'Murphy', 'Wang', 'Okafor', 'Schmidt', 'Tanaka', 'Haddad', 'Novak', 'Reyes', 'Kim'];

/** A small seeded PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Produces one change after another against an in-memory copy of both
 * tables, so updates and deletes refer to rows that exist and `before`
 * matches the previous `after`.
 */
export class ChangeFeed {
  readonly #random: () => number;
  readonly #orders = new Map<number, Row>();
  readonly #customers = new Map<number, Row>();
  #nextOrder = 1000;
  #nextCustomer = 1;
  #lsn = 24_023_128;
  #txId = 5_000;

  constructor(seed = 42) {
    this.#random = prng(seed);
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#random() * xs.length)];
  }

  /**
   * A change as a buggy connector would send it: `ts_ms` as an ISO date
   * string instead of epoch milliseconds. The mesh refuses it against the
   * shipped db-change-event schema and dead-letters it.
   */
  broken(now = Date.now()): ChangeEvent {
    const change = this.next(now);
    const data = change.event.data as Record<string, unknown>;
    return { topic: change.topic, event: { ...change.event, data: { ...data, ts_ms: new Date(now).toISOString() } } };
  }

  next(now = Date.now()): ChangeEvent {
    const r = this.#random();
    // Customers change less often than orders; a shop needs customers first.
    if (this.#customers.size < 3 || r < 0.25) return this.#customerChange(now);
    return this.#orderChange(now);
  }

  #customerChange(now: number): ChangeEvent {
    const r = this.#random();
    if (this.#customers.size < 3 || r < 0.5) {
      const id = this.#nextCustomer++;
      const first = this.#pick(FIRST);
      const last = this.#pick(LAST);
      const row = {
        id,
        name: `${first} ${last}`,
        email: `${first}.${last}${id}@example.com`.toLowerCase(),
        city: this.#pick(CITIES),
        created_at: new Date(now).toISOString(),
      };
      this.#customers.set(id, row);
      return this.#envelope('customers', 'c', null, row, now);
    }
    const id = this.#pick([...this.#customers.keys()]);
    const before = this.#customers.get(id)!;
    if (r < 0.93 || this.#customers.size < 5) {
      const after = { ...before, city: this.#pick(CITIES) };
      this.#customers.set(id, after);
      return this.#envelope('customers', 'u', before, after, now);
    }
    this.#customers.delete(id);
    return this.#envelope('customers', 'd', before, null, now);
  }

  #orderChange(now: number): ChangeEvent {
    const r = this.#random();
    if (this.#orders.size < 5 || r < 0.45) {
      const id = this.#nextOrder++;
      const qty = 1 + Math.floor(this.#random() * 4);
      const row = {
        id,
        customer_id: this.#pick([...this.#customers.keys()]),
        status: 'pending',
        items: qty,
        total_cents: qty * (500 + Math.floor(this.#random() * 9500)),
        currency: this.#pick(['EUR', 'USD', 'JPY', 'SGD']),
        created_at: new Date(now).toISOString(),
      };
      this.#orders.set(id, row);
      return this.#envelope('orders', 'c', null, row, now);
    }
    const id = this.#pick([...this.#orders.keys()]);
    const before = this.#orders.get(id)!;
    const step = STATUSES.indexOf(before.status as string);
    if (r < 0.9 && step < STATUSES.length - 1) {
      const after = { ...before, status: STATUSES[step + 1], updated_at: new Date(now).toISOString() };
      this.#orders.set(id, after);
      return this.#envelope('orders', 'u', before, after, now);
    }
    // Delivered orders are archived; a few others are cancelled.
    this.#orders.delete(id);
    return this.#envelope('orders', 'd', before, null, now);
  }

  #envelope(table: string, op: 'c' | 'u' | 'd', before: Row | null, after: Row | null, now: number): ChangeEvent {
    this.#lsn += 56 + Math.floor(this.#random() * 400);
    const key = (after ?? before)!.id;
    const verb = op === 'c' ? 'insert' : op === 'u' ? 'update' : 'delete';
    return {
      topic: `db.${table}.${verb}`,
      event: {
        source: `/debezium/postgresql/shop`,
        type: `io.debezium.${table}.${op}`,
        subject: String(key),
        time: new Date(now).toISOString(),
        datacontenttype: 'application/json',
        data: {
          before,
          after,
          op,
          source: { connector: 'postgresql', name: 'shop', db: 'shop', schema: 'public', table, lsn: this.#lsn, txId: this.#txId++, ts_ms: now - 3 },
          ts_ms: now,
        },
      },
    };
  }
}
