/**
 * Where a stream-fed webhook stands: the seam a durable consumer can take
 * over later (its acked position instead of this file). Live webhooks
 * have no position.
 *
 * FileDeliveryPosition keeps it as storage.dir/webhooks/<name>.json,
 * {"epoch":..., "offset":...}, written to a temporary file and renamed (a
 * crash leaves the old or the new position, never half of one). Writes
 * are coalesced to one per 100 ms: a crash may redeliver up to that much,
 * which at-least-once allows; flush() on close writes the last one.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredPosition {
  readonly epoch: string;
  /** The last offset done with (delivered, or given up to the dead letters). */
  readonly offset: number;
}

export interface DeliveryPosition {
  /** The position to resume after; null: none stored yet. Async, as a store on another engine (a durable consumer's) would be. */
  load(): Promise<StoredPosition | null>;
  /** The entry at `offset` is done: a later load() resumes after it. */
  advance(position: StoredPosition): void;
  /** Resolves once the last advance() is stored. */
  flush(): Promise<void>;
}

const WRITE_EVERY_MS = 100;

export class FileDeliveryPosition implements DeliveryPosition {
  readonly file: string;
  #pending: StoredPosition | null = null;
  #timer: NodeJS.Timeout | null = null;

  readonly #log: (line: string) => void;

  constructor(dir: string, name: string, log: (line: string) => void = () => {}) {
    this.file = join(dir, 'webhooks', `${name}.json`);
    this.#log = log;
  }

  async load(): Promise<StoredPosition | null> {
    try {
      const p = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<StoredPosition>;
      return typeof p.epoch === 'string' && Number.isSafeInteger(p.offset) ? { epoch: p.epoch, offset: p.offset! } : null;
    } catch {
      return null; // none yet, or unreadable: start as new
    }
  }

  advance(position: StoredPosition): void {
    this.#pending = position;
    this.#timer ??= setTimeout(() => this.#write(), WRITE_EVERY_MS);
  }

  async flush(): Promise<void> {
    this.#write();
  }

  #write(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const p = this.#pending;
    if (p === null) return;
    try {
      mkdirSync(join(this.file, '..'), { recursive: true });
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify(p));
      renameSync(tmp, this.file);
      this.#pending = null;
    } catch (err) {
      // Runs in a timer: a full or read-only disk must not take the node down. Kept, tried again on the next advance.
      this.#log(`webhook position ${this.file}: not stored (${(err as Error).message})`);
    }
  }
}
