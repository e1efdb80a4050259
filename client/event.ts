/**
 * Events as a client sees them: a CloudEvents 1.0 structured event
 * (docs/protocol.md, Events) with its topic, typed attributes, the mesh's
 * provenance parsed, and the data as bytes or decoded JSON.
 */

/** One entry of the hop path the mesh appends (`mghops`). */
export interface Hop {
  readonly node: string;
  readonly region: string;
  /** Epoch milliseconds when the event passed the node. */
  readonly time: number;
}

/** A received event. Attribute names follow CloudEvents 1.0. */
export interface MeshEvent {
  readonly topic: string;
  readonly specversion: string;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time?: string;
  readonly subject?: string;
  readonly datacontenttype?: string;
  readonly dataschema?: string;
  /** Node where the event entered the mesh (`mgorigin`). */
  readonly origin?: string;
  /** Ingress protocol at the origin (`mgprotocol`): ws, http, mqtt, amqp, nats. */
  readonly protocol?: string;
  /** Nodes the event passed, oldest first (`mghops`). */
  readonly hops: readonly Hop[];
  /** Every attribute that is not one of the above (extensions, traceparent, ...). */
  readonly extensions: Readonly<Record<string, unknown>>;
  /** The data as bytes: JSON data as its UTF-8 text, `data_base64` decoded. Empty when there is none. */
  readonly data: Uint8Array;
  /** The data as a JSON value (parsed when it arrived as bytes or text). Throws SyntaxError if it is not JSON. */
  json<T = unknown>(): T;
  /** The data as UTF-8 text. */
  text(): string;
  /** The structured CloudEvent exactly as received. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** For a stream subscription's delivery: the entry's offset in the stream (undefined otherwise). */
  readonly offset?: number;
  /** For a stream subscription's delivery: the stream's name. */
  readonly stream?: string;
}

/** What a publisher gives: `id`, `source`, `type` get defaults; `data` may be bytes (sent as `data_base64`) or any JSON value. */
export interface OutgoingEvent {
  id?: string;
  source?: string;
  type?: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  dataschema?: string;
  data?: unknown;
  /** Other attributes (CloudEvents extensions: lower-case a-z0-9 names). */
  [attribute: string]: unknown;
}

const KNOWN = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
  'mgorigin',
  'mgprotocol',
  'mghops',
]);
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Parses `mghops` ("node@region@epochMillis" joined by ","). Malformed entries are skipped. */
export function parseHops(value: unknown): Hop[] {
  if (typeof value !== 'string' || value === '') return [];
  const hops: Hop[] = [];
  for (const entry of value.split(',')) {
    const last = entry.lastIndexOf('@');
    const first = entry.indexOf('@');
    if (first < 0 || last === first) continue;
    hops.push({ node: entry.slice(0, first), region: entry.slice(first + 1, last), time: Number(entry.slice(last + 1)) });
  }
  return hops;
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function isJsonType(ct: string | undefined): boolean {
  if (ct === undefined) return true; // CloudEvents JSON format: no datacontenttype means JSON
  const base = ct.split(';')[0].trim().toLowerCase();
  return base === 'application/json' || base === 'text/json' || base.endsWith('+json');
}

/** A MeshEvent over a received structured CloudEvent; data bytes and JSON are computed on first use. */
class ReceivedEvent implements MeshEvent {
  readonly topic: string;
  readonly raw: Readonly<Record<string, unknown>>;
  #data: Uint8Array | undefined;
  #hops: Hop[] | undefined;
  #ext: Record<string, unknown> | undefined;

  readonly offset?: number;
  readonly stream?: string;

  constructor(topic: string, raw: Record<string, unknown>, stream?: string, offset?: number) {
    this.topic = topic;
    this.raw = raw;
    if (offset !== undefined) {
      this.offset = offset;
      this.stream = stream;
    }
  }
  get specversion(): string {
    return str(this.raw.specversion) ?? '1.0';
  }
  get id(): string {
    return str(this.raw.id) ?? '';
  }
  get source(): string {
    return str(this.raw.source) ?? '';
  }
  get type(): string {
    return str(this.raw.type) ?? '';
  }
  get time(): string | undefined {
    return str(this.raw.time);
  }
  get subject(): string | undefined {
    return str(this.raw.subject);
  }
  get datacontenttype(): string | undefined {
    return str(this.raw.datacontenttype);
  }
  get dataschema(): string | undefined {
    return str(this.raw.dataschema);
  }
  get origin(): string | undefined {
    return str(this.raw.mgorigin);
  }
  get protocol(): string | undefined {
    return str(this.raw.mgprotocol);
  }
  get hops(): readonly Hop[] {
    return (this.#hops ??= parseHops(this.raw.mghops));
  }
  get extensions(): Readonly<Record<string, unknown>> {
    if (this.#ext === undefined) {
      this.#ext = {};
      for (const [k, v] of Object.entries(this.raw)) if (!KNOWN.has(k)) this.#ext[k] = v;
    }
    return this.#ext;
  }
  get data(): Uint8Array {
    if (this.#data === undefined) {
      const { data, data_base64: b64 } = this.raw;
      if (typeof b64 === 'string') this.#data = base64ToBytes(b64);
      else if (data === undefined) this.#data = new Uint8Array(0);
      else if (typeof data === 'string' && !isJsonType(this.datacontenttype)) this.#data = utf8.encode(data);
      else this.#data = utf8.encode(JSON.stringify(data));
    }
    return this.#data;
  }
  json<T = unknown>(): T {
    const { data } = this.raw;
    if (data !== undefined && typeof this.raw.data_base64 !== 'string') {
      // JSON data arrives already parsed; text content types arrive as strings to parse.
      return (typeof data === 'string' && !isJsonType(this.datacontenttype) ? JSON.parse(data) : data) as T;
    }
    return JSON.parse(this.text()) as T;
  }
  text(): string {
    const { data } = this.raw;
    if (typeof data === 'string' && !isJsonType(this.datacontenttype)) return data;
    return fromUtf8.decode(this.data);
  }
  toJSON(): Record<string, unknown> {
    return this.offset === undefined
      ? { topic: this.topic, event: this.raw }
      : { topic: this.topic, stream: this.stream, offset: this.offset, event: this.raw };
  }
}

/** Wraps one delivered `{topic, event}` item (`{topic, stream, offset, event}` from a stream subscription). */
export function toMeshEvent(topic: string, raw: Record<string, unknown>, stream?: string, offset?: number): MeshEvent {
  return new ReceivedEvent(topic, raw, stream, offset);
}

/** A UUID v4: crypto.randomUUID where the context allows it (browsers only in secure contexts), else from getRandomValues. */
export function newEventId(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (typeof c?.getRandomValues === 'function') c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The structured CloudEvent to send: required attributes filled in, bytes
 * as `data_base64` (with `application/octet-stream` unless a type is given).
 */
export function toCloudEvent(event: OutgoingEvent, defaultSource: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    specversion: '1.0',
    id: event.id ?? newEventId(),
    source: event.source ?? defaultSource,
    type: event.type ?? 'meshgate.event',
  };
  for (const [k, v] of Object.entries(event)) {
    if (v === undefined || k === 'id' || k === 'source' || k === 'type') continue;
    if (k === 'data' && v instanceof Uint8Array) {
      out.data_base64 = bytesToBase64(v);
      out.datacontenttype ??= 'application/octet-stream';
    } else out[k] = v;
  }
  return out;
}
