import type { RegistryChange, RegistryState, SchemaRegistry, SubjectState } from '../../schemas/mod.js';
import type { Metric, MetricsRegistry } from '../base/mod.js';
import type { ControlFrame } from './peer-frames.js';
import type { PeerLink } from './peer-link.js';
import type { PeerMesh } from './peer-mesh.js';

export interface RegistrySyncOptions {
  /**
   * Bytes of registry state (as JSON text) per `schemas` frame: a large
   * registry is sent as several frames of whole subjects.
   * @default 1_048_576
   */
  readonly frameBytes?: number;
  /**
   * A subject bigger than this is never sent (logged and counted): every
   * peer endpoint refuses messages over 16 MiB, and a refused frame would
   * close the link on every reconnect. @default 15_728_640
   */
  readonly maxSubjectBytes?: number;
  readonly log: (line: string) => void;
}

export const REGISTRY_SYNC_DEFAULTS = Object.freeze({ frameBytes: 1_048_576, maxSubjectBytes: 15 * 1024 * 1024 });

/**
 * Makes one schema registry mesh-wide: registry states travel over the
 * peer links as `schemas` control frames and are merged with the
 * registry's CRDT rule (schemas/registry-merge.ts: per subject, the newer stamp
 * wins), so any peer graph converges without a leader.
 *
 *   link comes up        -> send our whole registry on it (a node that joins
 *                           late, or restarts empty, catches up here)
 *   local change         -> send the changed subjects to every up link
 *                           (changes within one loop turn go as one frame)
 *   `schemas` received   -> merge; send what the merge changed to every
 *                           other up link. A node forwards a change only
 *                           the first time it sees it, so in a cycle the
 *                           flood dies out after one frame per link
 *                           direction.
 *
 * Peers are authenticated (mesh key, optional mutual TLS), so their state
 * is trusted like their events; still, a frame that is not a registry
 * state is refused, counted and logged, and the link stays up, and a
 * subject whose schemas do not compile here or whose ids collide is
 * skipped on its own.
 */
export class RegistrySync {
  readonly #registry: SchemaRegistry;
  readonly #mesh: PeerMesh;
  readonly #log: (line: string) => void;
  readonly #frameBytes: number;
  readonly #maxSubjectBytes: number;
  readonly #dirty = new Set<string>();
  #flushScheduled = false;
  #closed = false;
  readonly #stopListening: () => void;
  readonly #m: { sent: Metric; received: Metric; refused: Metric; skipped: Metric; merged: Metric; oversize: Metric };

  constructor(registry: SchemaRegistry, mesh: PeerMesh, metrics: MetricsRegistry, options: RegistrySyncOptions) {
    this.#registry = registry;
    this.#mesh = mesh;
    this.#log = options.log;
    this.#frameBytes = options.frameBytes ?? REGISTRY_SYNC_DEFAULTS.frameBytes;
    this.#maxSubjectBytes = options.maxSubjectBytes ?? REGISTRY_SYNC_DEFAULTS.maxSubjectBytes;
    this.#m = {
      sent: metrics.counter('meshgate_schema_sync_frames_sent_total', 'Schema registry frames sent to peers (one per link)'),
      received: metrics.counter('meshgate_schema_sync_frames_received_total', 'Schema registry frames received from peers'),
      refused: metrics.counter('meshgate_schema_sync_refused_total', 'Schema registry frames from peers refused as malformed'),
      skipped: metrics.counter('meshgate_schema_sync_skipped_total', 'Subjects from peers not merged: malformed, not compiling here, or an id collision'),
      merged: metrics.counter('meshgate_schema_sync_merged_total', 'Subjects added or replaced by a newer version from a peer'),
      oversize: metrics.counter('meshgate_schema_sync_oversize_total', 'Subjects not sent to peers because they exceed the peer frame limit'),
    };
    mesh.onLinkUp((link) => this.#send([link], registry.export()));
    mesh.onControl('schemas', (link, frame) => this.#receive(link, frame));
    this.#stopListening = registry.onChange((change) => this.#changed(change));
  }

  /** Stops sending (the node is closing). */
  close(): void {
    this.#closed = true;
    this.#stopListening();
  }

  #changed(change: RegistryChange): void {
    // Merges are ours: #receive forwards what they changed, minus the link it came from.
    if (change.kind === 'merge') return;
    if (change.kind === 'import') for (const s of this.#registry.subjects()) this.#dirty.add(s);
    else this.#dirty.add(change.subject);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const subjects = [...this.#dirty];
      this.#dirty.clear();
      this.#send(this.#mesh.upLinks(), this.#registry.export(subjects));
    });
  }

  #receive(link: PeerLink, frame: ControlFrame): void {
    this.#m.received.inc();
    let result: ReturnType<SchemaRegistry['merge']>;
    try {
      result = this.#registry.merge((frame as { state?: unknown }).state as RegistryState);
    } catch (err) {
      this.#m.refused.inc();
      this.#log(`schema sync: refused a schemas frame from peer ${link.peerId}: ${(err as Error).message}`);
      return;
    }
    for (const { subject, reason } of result.skipped) {
      this.#m.skipped.inc();
      this.#log(`schema sync: skipped subject '${subject}' from peer ${link.peerId}: ${reason}`);
    }
    if (result.changed.length === 0) return;
    this.#m.merged.inc(result.changed.length);
    this.#send(
      this.#mesh.upLinks().filter((l) => l !== link),
      this.#registry.export(result.changed),
    );
  }

  /** Sends `state` to `links`, split into frames of whole subjects of about frameBytes each. */
  #send(links: readonly PeerLink[], state: RegistryState): void {
    if (this.#closed || links.length === 0 || state.subjects.length === 0) return;
    let chunk: SubjectState[] = [];
    let bytes = 0;
    const flush = () => {
      if (chunk.length === 0) return;
      const frame: ControlFrame = { t: 'schemas', state: { ...state, subjects: chunk } };
      for (const link of links) {
        if (!link.up) continue;
        link.control(frame);
        this.#m.sent.inc();
      }
      chunk = [];
      bytes = 0;
    };
    for (const subject of state.subjects) {
      // JSON text length: an upper bound of the CBOR size for JSON data.
      const size = JSON.stringify(subject).length;
      if (size > this.#maxSubjectBytes) {
        this.#m.oversize.inc();
        this.#log(`schema sync: subject '${subject.subject}' is ${size} bytes, over the ${this.#maxSubjectBytes}-byte peer frame limit; it stays on this node`);
        continue;
      }
      if (bytes + size > this.#frameBytes) flush();
      chunk.push(subject);
      bytes += size;
    }
    flush();
  }
}
