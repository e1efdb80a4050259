import type { Readable } from 'node:stream';
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { ERROR_CODES, type ErrorCode, type IngestResult, type MeshNode, type Metric } from '../../broker/mod.js';
import type { SchemaRegistry } from '../../schemas/mod.js';
import { type ChangeOp, changeEvent, type RowChange } from './change-event.js';
import { type Checkpoint, CheckpointFile } from './checkpoint.js';
import { invalid, type PgSourceSpec } from './config.js';
import { formatLsn, type Lsn, parseLsn } from './lsn.js';
import { ReconnectTimer } from './reconnect-timer.js';
import { rowSchema, rowSubject } from './row-schema.js';
import { checkServer, connectChecked, ensurePublication, readSlot, type TableInfo } from './setup.js';
import { readSnapshot } from './snapshot.js';
import { TxTracker } from './tx-tracker.js';

export type PgSourceState = 'connecting' | 'snapshot' | 'up' | 'down' | 'closed';

/** The transaction between Begin and Commit: what each change's id and envelope need. */
interface OpenTx {
  readonly commitLsn: Lsn;
  readonly xid: number;
  readonly commitMs: number;
  position: number;
  /** The replication origin the transaction was written under (a meshgate sink's session), from pgoutput's Origin message. */
  origin: string | null;
}

const NEVER = new Promise<never>(() => undefined);

/**
 * Change data capture from one PostgreSQL database into the mesh, over a
 * permanent logical replication slot with the pgoutput plugin.
 *
 * ```
 *  WAL --pgoutput--> change --changeEvent--> node.ingest --(durable)--> TxTracker
 *      finished prefix --> checkpoint file (fsync, rename) --> standby status update (slot confirmed)
 * ```
 *
 * The order is what makes it exactly once into the mesh (STYLE.md,
 * "Connectors"): a position reaches the server only after the checkpoint
 * holds it, the checkpoint only after every change before it was accepted
 * (and stored where a stream matched), and only at transaction ends. A
 * restart resumes from the checkpoint; what is replayed carries the ids it
 * had, and the mesh's dedup drops it.
 *
 * pg-logical-replication acknowledges every message as it emits it, and a
 * timer confirms the last LSN received: both are off here
 * (`acknowledge.auto: false`, `timeoutSeconds: 0`); this class sends every
 * confirmation itself.
 */
export class PgSource {
  readonly spec: PgSourceSpec;
  readonly #node: MeshNode;
  readonly #log: (line: string) => void;
  readonly #file: CheckpointFile;
  readonly #tracker: TxTracker;
  #checkpoint: Checkpoint | null = null;
  /** Highest position the checkpoint file holds (and, once streaming, the server was told). */
  #committed: Lsn = 0n;
  /** Position waiting to be written. */
  #target: Lsn = 0n;
  #persisting: Promise<void> | null = null;
  /** Highest WAL position the server reported (keepalives). */
  #serverLsn: Lsn = 0n;
  #tables = new Map<string, TableInfo>();
  #tx: OpenTx | null = null;
  #service: LogicalReplicationService | null = null;
  #state: PgSourceState = 'connecting';
  #lastError: string | null = null;
  #closed = false;
  #paused = false;
  #heartbeat: NodeJS.Timeout | null = null;
  readonly #reconnect: ReconnectTimer;
  readonly #c: { captured: Metric; duplicates: Metric; reconnects: Metric; lag: Metric; pauses: Metric; originTx: Metric; originChanges: Metric };
  readonly #refused = new Map<string, Metric>();

  /** Where each captured table's row schema is versioned (row-schema.ts); null: not registered. */
  readonly #schemas: SchemaRegistry | null;
  /** subject -> the row schema last registered (JSON text), so an unchanged Relation message registers nothing. */
  readonly #rowSchemas = new Map<string, string>();

  constructor(node: MeshNode, spec: PgSourceSpec, storageDir: string, log: (line: string) => void, schemas: SchemaRegistry | null = null) {
    this.#node = node;
    this.#schemas = schemas;
    this.spec = spec;
    this.#log = log;
    this.#reconnect = new ReconnectTimer(spec.backoffMinMs, spec.backoffMaxMs);
    this.#file = new CheckpointFile(storageDir, spec.slot);
    this.#tracker = new TxTracker(
      (lsn) => this.#advance(lsn),
      () => this.#maybeResume(),
    );
    const m = node.metrics;
    const l = { bridge: spec.name };
    this.#c = {
      captured: m.counter(
        'meshgate_pg_changes_captured_total',
        'Row changes a postgres source brought into the mesh (snapshot rows included, duplicates excluded)',
        l,
      ),
      duplicates: m.counter('meshgate_pg_changes_duplicate_total', 'Row changes replayed after a restart that the mesh already had, by (source, id)', l),
      reconnects: m.counter('meshgate_pg_reconnects_total', 'Replication streams restarted from the checkpoint after a loss or a refused store', l),
      lag: m.gauge('meshgate_pg_slot_lag_bytes', 'WAL bytes between the server position last reported and what the slot has confirmed', l),
      pauses: m.counter('meshgate_pg_stream_pauses_total', 'Times the replication stream was paused because maxInFlight changes were not yet stored', l),
      originTx: m.counter(
        'meshgate_pg_origin_transactions_skipped_total',
        'Transactions not captured because they carry a replication origin (written by a meshgate sink or another replica): no ping-pong',
        l,
      ),
      originChanges: m.counter('meshgate_pg_origin_changes_skipped_total', 'Row changes inside those transactions, not captured', l),
    };
  }

  get state(): PgSourceState {
    return this.#state;
  }

  /** What the checkpoint file holds: the slot is never confirmed past it. */
  get committedLsn(): Lsn {
    return this.#committed;
  }

  /**
   * Checks the server (throws MG_ERR_CONFIG_INVALID with the fix), creates
   * the publication and slot when missing, reads the snapshot on first
   * start, then streams.
   */
  async start(): Promise<void> {
    const admin = await connectChecked(this.spec);
    try {
      const tables = await checkServer(this.spec, admin);
      for (const t of tables) this.#tables.set(`${t.schema}.${t.table}`, t);
      await ensurePublication(this.spec, admin, this.#log);
      let checkpoint = await this.#file.read();
      let slot = await readSlot(this.spec, admin);
      if (slot !== null && checkpoint?.snapshot === 'pending') {
        // The last start died inside its snapshot: a new slot gives a new consistent snapshot.
        this.#log(`bridge ${this.spec.name}: snapshot of slot ${this.spec.slot} was interrupted; dropping the slot and reading the snapshot again`);
        await admin.query('SELECT pg_drop_replication_slot($1)', [this.spec.slot]);
        slot = null;
      }
      if (slot === null) {
        if (checkpoint !== null && checkpoint.snapshot !== 'pending') {
          this.#log(`bridge ${this.spec.name}: slot ${this.spec.slot} is gone (changes since ${formatLsn(checkpoint.lsn)} were not kept); creating it again`);
        }
        checkpoint = await this.#createSlot(tables);
      } else if (checkpoint === null) {
        // A slot made outside meshgate: no snapshot is consistent with it any more; stream from its position.
        checkpoint = { lsn: slot.confirmedFlush, consistentPoint: slot.confirmedFlush, snapshot: 'skipped' };
        await this.#file.write(checkpoint);
        this.#log(
          `bridge ${this.spec.name}: slot ${this.spec.slot} exists without a checkpoint; streaming from ${formatLsn(slot.confirmedFlush)} without a snapshot`,
        );
      }
      this.#checkpoint = checkpoint;
      this.#committed = this.#target = checkpoint.lsn;
    } finally {
      await admin.end().catch(() => undefined);
    }
    await this.#stream();
  }

  /** Creates the slot, and with `snapshot` reads every row as of its consistent point before streaming. */
  async #createSlot(tables: readonly TableInfo[]): Promise<Checkpoint> {
    const repl = await connectChecked(this.spec, true);
    try {
      const mode = this.spec.snapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT';
      let row: { consistent_point: string; snapshot_name: string | null };
      try {
        row = (await repl.query(`CREATE_REPLICATION_SLOT "${this.spec.slot}" LOGICAL pgoutput ${mode}`)).rows[0];
      } catch (err) {
        const e = err as { code?: string; message: string };
        throw invalid(
          `bridges[${this.spec.index}].slot`,
          `cannot create replication slot ${this.spec.slot} (${e.code ?? ''} ${e.message}); fix: a role with REPLICATION, wal_level = logical and a free max_replication_slots`,
          { cause: err },
        );
      }
      const point = parseLsn(row.consistent_point);
      this.#log(`bridge ${this.spec.name}: created replication slot ${this.spec.slot} at ${row.consistent_point}`);
      if (!this.spec.snapshot || row.snapshot_name === null) {
        const c: Checkpoint = { lsn: point, consistentPoint: point, snapshot: 'skipped' };
        await this.#file.write(c);
        return c;
      }
      await this.#file.write({ lsn: point, consistentPoint: point, snapshot: 'pending' });
      this.#state = 'snapshot';
      // The exported snapshot lives as long as the replication connection runs no other command.
      const reader = await connectChecked(this.spec);
      const stored: Promise<unknown>[] = [];
      let total: number;
      try {
        const nowMs = Date.now();
        total = await readSnapshot(reader, row.snapshot_name, tables, this.spec.snapshotChunkRows, (t, r, n) => {
          const change: RowChange = {
            op: 'r',
            table: t,
            keyColumns: t.key,
            before: null,
            after: r,
            lsn: point,
            commitLsn: point,
            txId: null,
            position: n,
            commitMs: nowMs,
          };
          const result = this.#node.ingest(changeEvent(this.spec, change, nowMs), 'postgres');
          const wait = this.#accepted(result);
          if (wait === null) return undefined;
          stored.push(wait);
          // Flow control: at maxInFlight unstored rows, let the stores catch up before reading on.
          if (stored.length >= this.spec.maxInFlight) return Promise.all(stored.splice(0)).then(() => undefined);
          return undefined;
        });
      } finally {
        await reader.end().catch(() => undefined);
      }
      await Promise.all(stored);
      const c: Checkpoint = { lsn: point, consistentPoint: point, snapshot: 'done' };
      await this.#file.write(c);
      this.#log(`bridge ${this.spec.name}: snapshot of ${total} rows as of ${row.consistent_point} is in the mesh`);
      return c;
    } finally {
      await repl.end().catch(() => undefined);
    }
  }

  /**
   * What one ingest means for the position: null when nothing is to wait
   * for (accepted without a stream, a duplicate, or refused for good and
   * counted), or the store's promise. A refusal that may pass (a full
   * stream, ...) throws: the stream restarts from the checkpoint, so the
   * change is read again rather than skipped.
   */
  #accepted(result: IngestResult): Promise<unknown> | null {
    if (!result.ok) {
      this.#countRefused(result.code);
      if (ERROR_CODES[result.code].retry) throw new Error(`${result.code}: ${result.message}`);
      this.#log(`bridge ${this.spec.name}: change refused for good (${result.code}: ${result.message}); skipped`);
      return null;
    }
    if (result.duplicate) {
      this.#c.duplicates.inc();
      return null;
    }
    this.#c.captured.inc();
    if (result.durable === undefined) return null;
    return result.durable.then((refusal) => {
      if (refusal === null) return;
      this.#countRefused(refusal.code);
      this.#lost(new Error(`${refusal.code}: ${refusal.message}`));
      return NEVER;
    });
  }

  #countRefused(code: ErrorCode): void {
    let metric = this.#refused.get(code);
    if (metric === undefined) {
      metric = this.#node.metrics.counter('meshgate_pg_changes_refused_total', 'Row changes the mesh refused, by error code', { bridge: this.spec.name, code });
      this.#refused.set(code, metric);
    }
    metric.inc();
  }

  // --- streaming -----------------------------------------------------------

  async #stream(): Promise<void> {
    if (this.#closed) return;
    this.#state = 'connecting';
    this.#tracker.reset();
    this.#tx = null;
    this.#paused = false;
    const service = new LogicalReplicationService(
      { connectionString: this.spec.url, application_name: `meshgate ${this.spec.name}` },
      // Never on emit, never on a timer: only #persist confirms, after the checkpoint is written.
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
    );
    this.#service = service;
    service.on('data', (lsn: string, msg: Pgoutput.Message) => {
      if (this.#service !== service) return;
      try {
        this.#onMessage(parseLsn(lsn), msg);
      } catch (err) {
        this.#lost(err as Error);
      }
    });
    service.on('heartbeat', (lsn: string, _ts: number, reply: boolean) => {
      if (this.#service === service) this.#onKeepalive(parseLsn(lsn), reply);
    });
    service.on('error', (err: Error) => {
      if (this.#service === service) this.#lost(err);
    });
    service.on('start', () => {
      if (this.#service !== service) return;
      this.#state = 'up';
      this.#lastError = null;
      this.#reconnect.reset();
    });
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.spec.publication] });
    // The stored checkpoint, always: the server resumes at max(it, confirmed_flush_lsn), and it is never behind the slot.
    service.subscribe(plugin, this.spec.slot, formatLsn(this.#committed)).then(
      () => {
        if (this.#service === service && !this.#closed) this.#lost(new Error('replication stream ended'));
      },
      (err: Error) => {
        if (this.#service === service) this.#lost(err);
      },
    );
    this.#heartbeat ??= setInterval(() => this.#ping(), this.spec.heartbeatMs).unref();
  }

  #onMessage(lsn: Lsn, msg: Pgoutput.Message): void {
    switch (msg.tag) {
      case 'begin':
        this.#tx = {
          commitLsn: parseLsn(msg.commitLsn!),
          xid: msg.xid,
          commitMs: Number(BigInt(msg.commitTime as bigint) / 1000n),
          position: 0,
          origin: null,
        };
        this.#tracker.begin();
        return;
      case 'insert':
        return this.#change('c', lsn, msg.relation, null, msg.new);
      case 'update':
        return this.#change('u', lsn, msg.relation, msg.old ?? msg.key, msg.new);
      case 'delete':
        return this.#change('d', lsn, msg.relation, msg.old ?? msg.key, null);
      case 'origin':
        // pgoutput sends it right after Begin for a transaction written under a
        // replication origin: a sink's apply (or another replica's). Its changes are
        // somebody else's, already in the mesh; capturing them would send them round again.
        if (this.#tx !== null && this.#tx.origin === null) {
          this.#tx.origin = msg.originName;
          this.#c.originTx.inc();
        }
        return;
      case 'commit':
        this.#tx = null;
        this.#tracker.commit(parseLsn(msg.commitEndLsn!));
        return;
      case 'truncate':
        this.#log(`bridge ${this.spec.name}: TRUNCATE of ${msg.relations.map((r) => `${r.schema}.${r.name}`).join(', ')} is not captured`);
        return;
      case 'relation':
        return this.#relation(msg);
      default:
        return; // type, message: metadata the parser keeps
    }
  }

  /**
   * pgoutput describes a table before its first change in a session and
   * again after its columns change: a new row shape is registered as the
   * next version of the table's subject (row-schema.ts). The database is
   * the truth here, so any change is accepted (compatibility NONE).
   */
  #relation(rel: Pgoutput.MessageRelation): void {
    const registry = this.#schemas;
    if (registry === null || !this.#tables.has(`${rel.schema}.${rel.name}`)) return;
    const subject = rowSubject(rel.schema, rel.name);
    const schema = rowSchema(rel);
    const text = JSON.stringify(schema);
    if (this.#rowSchemas.get(subject) === text) return;
    try {
      const r = registry.register(subject, schema, { compatibility: 'NONE' });
      this.#rowSchemas.set(subject, text);
      this.#log(`bridge ${this.spec.name}: ${rel.schema}.${rel.name} has ${rel.columns.length} columns: schema ${subject} version ${r.version}`);
    } catch (err) {
      this.#log(`bridge ${this.spec.name}: schema ${subject} not registered: ${(err as Error).message}`);
    }
  }

  #change(op: ChangeOp, lsn: Lsn, rel: Pgoutput.MessageRelation, before: Record<string, unknown> | null, after: Record<string, unknown> | null): void {
    const tx = this.#tx;
    const table = this.#tables.get(`${rel.schema}.${rel.name}`);
    if (tx === null || table === undefined) return;
    if (tx.origin !== null) {
      this.#c.originChanges.inc();
      return;
    }
    tx.position++;
    const change: RowChange = {
      op,
      table,
      keyColumns: table.key,
      before,
      after,
      lsn,
      commitLsn: tx.commitLsn,
      txId: tx.xid,
      position: tx.position,
      commitMs: tx.commitMs,
    };
    const result = this.#node.ingest(changeEvent(this.spec, change, Date.now()), 'postgres');
    const wait = this.#accepted(result);
    if (wait === null) return;
    this.#tracker.change(wait);
    if (!this.#paused && this.#tracker.inFlight >= this.spec.maxInFlight) {
      // Large transactions: changes go into the mesh as they arrive, so only
      // unstored ones are held; past the limit the socket stops being read.
      this.#socket()?.pause();
      this.#paused = true;
      this.#c.pauses.inc();
    }
  }

  #maybeResume(): void {
    if (this.#paused && this.#tracker.inFlight < this.spec.maxInFlight / 2) {
      this.#paused = false;
      this.#socket()?.resume();
    }
  }

  /** The replication connection's socket; the library keeps it private. */
  #socket(): Readable | undefined {
    return (this.#service as unknown as { _connection?: { stream?: Readable } } | null)?._connection?.stream;
  }

  /**
   * A keepalive carries the server's WAL position. Messages arrive in
   * order, so when nothing received is unfinished, every transaction
   * before that position is in the mesh: confirming it lets an idle slot
   * (or one whose tables see no writes) release WAL.
   */
  #onKeepalive(lsn: Lsn, reply: boolean): void {
    if (lsn > this.#serverLsn) this.#serverLsn = lsn;
    this.#updateLag();
    if (this.#tracker.idle && lsn > this.#target) this.#advance(lsn);
    else if (reply) this.#confirm(this.#committed);
  }

  /** When idle, asks the server for a keepalive (the heartbeat). */
  #ping(): void {
    if (this.#state !== 'up' || !this.#tracker.idle || this.#persisting !== null) return;
    this.#confirm(this.#committed, true);
  }

  #advance(lsn: Lsn): void {
    if (lsn <= this.#target) return;
    this.#target = lsn;
    this.#persisting ??= this.#persist().finally(() => {
      this.#persisting = null;
    });
  }

  /** Writes the newest target, then confirms it; repeats while the target moved on meanwhile. */
  async #persist(): Promise<void> {
    while (this.#target > this.#committed) {
      const lsn = this.#target;
      try {
        await this.#file.write({ ...this.#checkpoint!, lsn });
      } catch (err) {
        this.#log(`bridge ${this.spec.name}: cannot write checkpoint ${this.#file.path}: ${(err as Error).message}`);
        this.#lost(err as Error);
        return;
      }
      this.#committed = lsn;
      this.#confirm(lsn);
      this.#updateLag();
    }
  }

  /** Standby status update with `lsn` as written, flushed and applied. */
  #confirm(lsn: Lsn, ping = false): void {
    if (this.#service === null || this.#state !== 'up' || lsn === 0n) return;
    // The library sends its argument + 1 (the byte after the last one received); PostgreSQL wants the position itself.
    void this.#service.acknowledge(formatLsn(lsn - 1n), ping).catch(() => undefined);
  }

  #updateLag(): void {
    this.#c.lag.set(this.#serverLsn > this.#committed ? Number(this.#serverLsn - this.#committed) : 0);
  }

  /** The stream failed: drop it and resume from the checkpoint after a pause. */
  #lost(err: Error): void {
    if (this.#closed || this.#service === null) return;
    const service = this.#service;
    this.#service = null;
    this.#state = 'down';
    this.#lastError = err.message;
    this.#tracker.reset();
    void service.destroy().catch(() => undefined);
    const delay = this.#reconnect.schedule(() => {
      this.#c.reconnects.inc();
      void this.#stream();
    });
    this.#log(`bridge ${this.spec.name}: replication stream lost (${err.message}); resuming from ${formatLsn(this.#committed)} in ${delay} ms`);
  }

  status(): Record<string, unknown> {
    const refused: Record<string, number> = {};
    for (const [code, metric] of this.#refused) refused[code] = metric.value;
    return {
      name: this.spec.name,
      type: 'postgres-source',
      url: this.spec.displayUrl,
      state: this.#state,
      lastError: this.#lastError,
      slot: this.spec.slot,
      publication: this.spec.publication,
      confirmedLsn: formatLsn(this.#committed),
      lagBytes: this.#c.lag.value,
      captured: this.#c.captured.value,
      duplicates: this.#c.duplicates.value,
      originSkipped: { transactions: this.#c.originTx.value, changes: this.#c.originChanges.value },
      refused,
      reconnects: this.#c.reconnects.value,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#state = 'closed';
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#reconnect.cancel();
    await this.#persisting?.catch(() => undefined);
    const service = this.#service;
    this.#service = null;
    await service?.destroy().catch(() => undefined);
  }
}
