import pg from 'pg';
import { codedReason, type MeshEvent, type MeshNode, type Metric, type StreamManager } from '../../broker/mod.js';
import { ApplyRefusal, ChangeApplier, type DecodedChange, decodeChange, isRefusal, SINK_TABLES_DDL } from './change-applier.js';
import { ReconnectTimer } from './reconnect-timer.js';
import type { PgSinkSpec } from './sink-config.js';
import type { ChangeBatch, ChangeFeed, FeedPosition } from './sink-feed.js';
import { StreamChangeFeed } from './sink-feed.js';

export type PgSinkState = 'connecting' | 'up' | 'down' | 'closed';

/** A batch run without savepoints met a refused change: run it again with them. */
class Refusing extends Error {}

/** A change the target refused, published as a dead letter once the batch committed. */
interface Refused {
  readonly event: MeshEvent;
  readonly message: string;
}

/**
 * Applies the mesh's change events (a postgres-source's, from any node) to
 * a PostgreSQL target, exactly once per change and last-writer-wins per row.
 *
 * ```
 *  stream on this node --ChangeFeed--> batch --ChangeApplier, one target transaction--> target tables
 *                                                 + meshgate_row_version (hlc, origin) per row
 *                                                 + meshgate_sink_position (stream, epoch, offset)
 * ```
 *
 * Exactly once: the position is written in the transaction of the
 * changes, so a crash leaves the target at a batch boundary with the
 * position that matches it, and the restart reads on from there. A change
 * the mesh delivered twice (a peer's replay after a restart stores it in
 * the stream again, at another offset) finds its own (hlc, origin) as the
 * row's version and is skipped as a duplicate.
 *
 * No ping-pong: every session of the sink runs under the replication
 * origin `meshgate_<name>`, so its transactions carry it in the WAL; a
 * postgres-source on the same database drops transactions with an origin
 * (pg-source.ts), and what the sink wrote never comes back as a change.
 *
 * Own changes: a change captured from this very target (its `source` is the
 * target's URI, when source and sink share a database in a both-ways set-up)
 * is already in its rows. Only its version is recorded, unless the sink
 * ever wrote that row (a change from elsewhere): then the row may hold the
 * sink's older write, and the own change is written back, as last writer.
 * This is sound because source and sink share the node's clock: a local
 * write committed after the sink applied a change is captured after the
 * node saw that change, so its mghlc is the newer one.
 */
export class PgSink {
  readonly spec: PgSinkSpec;
  readonly #node: MeshNode;
  readonly #log: (line: string) => void;
  readonly #feed: ChangeFeed;
  readonly #streams: StreamManager;
  readonly #applier: ChangeApplier;
  #db: pg.Client | null = null;
  #state: PgSinkState = 'connecting';
  #lastError: string | null = null;
  #position: FeedPosition | null = null;
  #closed = false;
  readonly #reconnect: ReconnectTimer;
  #batch: Promise<void> | null = null;
  readonly #c: Record<'applied' | 'duplicate' | 'conflict' | 'recorded' | 'deadLettered' | 'batches' | 'reconnects', Metric> & { lag: Metric; behind: Metric };

  constructor(node: MeshNode, spec: PgSinkSpec, streams: StreamManager, log: (line: string) => void) {
    this.#node = node;
    this.spec = spec;
    this.#streams = streams;
    this.#log = log;
    this.#reconnect = new ReconnectTimer(spec.backoffMinMs, spec.backoffMaxMs);
    this.#feed = new StreamChangeFeed(streams, spec.stream, spec.filter, spec.batchSize);
    this.#applier = new ChangeApplier(spec);
    const m = node.metrics;
    const l = { bridge: spec.name };
    this.#c = {
      applied: m.counter('meshgate_pg_sink_applied_total', 'Row changes a postgres sink wrote to its target', l),
      duplicate: m.counter('meshgate_pg_sink_duplicates_total', 'Row changes skipped because the row already had their version (a redelivery)', l),
      conflict: m.counter(
        'meshgate_pg_sink_conflicts_total',
        'Row changes skipped because the row had a newer version (last writer wins by mghlc, mgorigin)',
        l,
      ),
      recorded: m.counter(
        'meshgate_pg_sink_own_recorded_total',
        'Changes captured from the target itself: their row was there, only the version was recorded',
        l,
      ),
      deadLettered: m.counter('meshgate_pg_sink_deadlettered_total', 'Changes the target refused (or no change events), sent to _mg.deadletter.<topic>', l),
      batches: m.counter('meshgate_pg_sink_batches_total', 'Target transactions committed, one per batch of changes', l),
      reconnects: m.counter('meshgate_pg_sink_reconnects_total', 'Target sessions restarted from the stored position after a failure', l),
      lag: m.gauge('meshgate_pg_sink_apply_lag_ms', 'Source commit to target commit of the newest change of the last batch, ms', l),
      behind: m.gauge('meshgate_pg_sink_behind_entries', 'Stream entries after the last batch handed to the target', l),
    };
  }

  get state(): PgSinkState {
    return this.#state;
  }

  /**
   * Creates the stream when missing (from now on every matching event is
   * kept, whether or not the target is reachable), then connects to the
   * target in the background: a target that is down is retried, not a
   * start-up failure.
   */
  async start(): Promise<void> {
    await this.#ensureStream();
    await this.#connect();
  }

  /** The stream, created for the filter when missing (at start, and again after someone removed it). */
  async #ensureStream(): Promise<void> {
    if (this.#streams.info(this.spec.stream) !== undefined) return;
    await this.#streams.create({ name: this.spec.stream, filters: [this.spec.filter] });
    this.#log(`bridge ${this.spec.name}: created stream ${this.spec.stream} for ${this.spec.filter}`);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    this.#state = 'connecting';
    const db = new pg.Client({ connectionString: this.spec.url, application_name: `meshgate ${this.spec.name}` });
    db.on('error', (err) => this.#lost(db, err));
    this.#db = db;
    try {
      await db.connect();
      await db.query(SINK_TABLES_DDL);
      await this.#setupOrigin(db);
      const r = await db.query<{ feed: string; epoch: string; offset: string }>(
        'SELECT feed, epoch, "offset" FROM public.meshgate_sink_position WHERE sink = $1',
        [this.spec.name],
      );
      const row = r.rows[0];
      const stored = row === undefined ? null : { feed: row.feed, epoch: row.epoch, offset: Number(row.offset) };
      if (this.#db !== db || this.#closed) return;
      await this.#ensureStream();
      this.#applier.reset();
      this.#position = stored;
      const { after, note } = this.#feed.start(
        stored,
        (batch) => this.#applyBatch(db, batch),
        (why) => this.#lost(db, new Error(why)),
      );
      if (note !== null) this.#log(`bridge ${this.spec.name}: ${note}`);
      this.#state = 'up';
      this.#lastError = null;
      this.#reconnect.reset();
      this.#log(`bridge ${this.spec.name}: applying stream ${this.spec.stream} after offset ${after} to ${this.spec.displayUrl}`);
    } catch (err) {
      this.#lost(db, err as Error);
    }
  }

  /** The session's transactions carry origin meshgate_<name> in the WAL (what the sources drop). */
  async #setupOrigin(db: pg.Client): Promise<void> {
    const name = this.spec.origin;
    const has = await db.query('SELECT 1 FROM pg_replication_origin WHERE roname = $1', [name]);
    if (has.rowCount === 0) {
      try {
        await db.query('SELECT pg_replication_origin_create($1)', [name]);
      } catch (err) {
        // Another session created it meanwhile.
        if ((err as { code?: string }).code !== '23505') throw err;
      }
    }
    await db.query('SELECT pg_replication_origin_session_setup($1)', [name]);
  }

  /**
   * One target transaction: every change and the position. First without
   * savepoints (two round trips fewer per change); when the target refuses
   * a change, the batch is rolled back and run again with a savepoint per
   * change, so the refused one is rolled back alone and dead-lettered.
   */
  async #applyBatch(db: pg.Client, batch: ChangeBatch): Promise<void> {
    const run = this.#runBatch(db, batch, false).then(
      () => undefined,
      (err) => {
        if (err instanceof Refusing) return this.#runBatch(db, batch, true);
        throw err;
      },
    );
    this.#batch = run.catch(() => undefined);
    return run;
  }

  async #runBatch(db: pg.Client, batch: ChangeBatch, savepoints: boolean): Promise<void> {
    const counts = { applied: 0, duplicate: 0, conflict: 0, recorded: 0 };
    const refused: Refused[] = [];
    let newest = 0;
    const quiet = () => undefined;
    await db.query('BEGIN');
    try {
      for (const event of batch.events) {
        const change: DecodedChange | string = decodeChange(event);
        if (typeof change === 'string') {
          refused.push({ event, message: `not a change event: ${change}` });
          continue;
        }
        if (savepoints) await db.query('SAVEPOINT mg_change');
        try {
          const outcome = await this.#applier.apply(db, change);
          if (savepoints) await db.query('RELEASE SAVEPOINT mg_change');
          counts[outcome]++;
          if (change.commitMs > newest) newest = change.commitMs;
        } catch (err) {
          if (!(err instanceof ApplyRefusal) && !isRefusal(err)) throw err;
          if (!savepoints) throw new Refusing();
          await db.query('ROLLBACK TO SAVEPOINT mg_change');
          const e = err as { code?: string; sqlState?: string; message: string; detail?: string };
          const state = e instanceof ApplyRefusal ? e.sqlState : e.code;
          refused.push({ event, message: `SQLSTATE ${state}: ${e.message}${e.detail === undefined ? '' : ` (${e.detail})`}` });
        }
      }
      await db.query({
        name: 'mg_position_write',
        text: `INSERT INTO public.meshgate_sink_position (sink, feed, epoch, "offset") VALUES ($1, $2, $3, $4)
               ON CONFLICT (sink) DO UPDATE SET feed = EXCLUDED.feed, epoch = EXCLUDED.epoch, "offset" = EXCLUDED."offset", updated_at = now()`,
        values: [this.spec.name, batch.position.feed, batch.position.epoch, batch.position.offset],
      });
      await db.query('COMMIT');
    } catch (err) {
      await db.query('ROLLBACK').catch(quiet);
      throw err;
    }
    // Counted after the commit only: a batch that failed is read again, and counted then.
    this.#position = batch.position;
    this.#c.batches.inc();
    for (const k of ['applied', 'duplicate', 'conflict', 'recorded'] as const) this.#c[k].inc(counts[k]);
    if (newest > 0) this.#c.lag.set(Math.max(0, Date.now() - newest));
    this.#c.behind.set(this.#feed.behind);
    for (const r of refused) {
      this.#c.deadLettered.inc();
      this.#node.reject('MG_ERR_PG_APPLY_REFUSED', r.message);
      this.#node.publishDeadLetter(r.event, [{ path: '', message: codedReason('MG_ERR_PG_APPLY_REFUSED', r.message) }]);
      this.#log(`bridge ${this.spec.name}: change ${r.event.id} of ${r.event.source} refused by the target (${r.message}); dead-lettered`);
    }
  }

  /** The session failed: drop it, and resume from the target's stored position after a pause. */
  #lost(db: pg.Client, err: Error): void {
    if (this.#closed || this.#db !== db) return;
    this.#db = null;
    this.#feed.stop();
    this.#state = 'down';
    this.#lastError = err.message;
    void db.end().catch(() => undefined);
    const delay = this.#reconnect.schedule(() => {
      this.#c.reconnects.inc();
      void this.#connect();
    });
    this.#log(`bridge ${this.spec.name}: target session lost (${err.message}); resuming from the stored position in ${delay} ms`);
  }

  status(): Record<string, unknown> {
    return {
      name: this.spec.name,
      type: 'postgres-sink',
      url: this.spec.displayUrl,
      state: this.#state,
      lastError: this.#lastError,
      filter: this.spec.filter,
      stream: this.spec.stream,
      origin: this.spec.origin,
      position: this.#position,
      behind: this.#feed.behind,
      applied: this.#c.applied.value,
      duplicates: this.#c.duplicate.value,
      conflicts: this.#c.conflict.value,
      ownRecorded: this.#c.recorded.value,
      deadLettered: this.#c.deadLettered.value,
      batches: this.#c.batches.value,
      applyLagMs: this.#c.lag.value,
      reconnects: this.#c.reconnects.value,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#state = 'closed';
    this.#reconnect.cancel();
    this.#feed.stop();
    await this.#batch;
    const db = this.#db;
    this.#db = null;
    await db?.end().catch(() => undefined);
  }
}
