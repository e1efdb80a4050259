import { Encoder } from 'cbor-x';
import type { ErrorCode } from '../base/mod.js';
import type { MeshEvent } from '../event/mod.js';
import {
  arrayElementSpans,
  CBOR_OPTIONS,
  clientItemFromPeerEntry,
  decodeStructuredJson,
  encodeClientItem,
  encodeStructuredJson,
  eventFromMap,
  topLevelMemberSpan,
} from '../event/mod.js';
import type { EgressFormat } from '../pipeline/mod.js';
import type { StreamStart } from '../streams/mod.js';

/**
 * The meshgate client protocol over WebSocket (docs/protocol.md).
 *
 * Two flavours, chosen by Sec-WebSocket-Protocol, carrying the same frames:
 *   meshgate.v1.json  text frames, each one JSON object
 *   meshgate.v1.cbor  binary frames, each one CBOR map; event `data` is a byte string
 *
 * client -> node                                   node -> client
 *   {op:"sub",   filter, stream?, from?, epoch?, ref?} {op:"hello", node, region, version, limits}
 *   {op:"unsub", filter, stream?, ref?}               {op:"events", events:[{topic, stream?, offset?, event}, ...]}
 *   {op:"pub",   topic, event, ref?}                  {op:"ok", ref, duplicate?}
 *   {op:"pubs",  items:[{topic, event}, ...], ref?}   {op:"err", ref?, index?, code, message, reasons?}
 *   {op:"ping",  ref?}                                {op:"pong", ref?}
 *   {op:"consume", stream, consumer, filter?, ackWaitMs?, maxInFlight?, start?, ref?}
 *                      -> {op:"ok", ref, stream, consumer, epoch, ackFloor, last}, then events items
 *                         {topic, stream, consumer, offset, delivery, redelivered, event}
 *   {op:"ack", stream, consumer, offsets:[...], ref?}  (ok once the position is durable)
 *   {op:"nak", stream, consumer, offset, delay?, ref?}
 * A request with `ref` is always answered (ok, pong or err); without one,
 * only failures are reported. `event` is a structured-mode CloudEvent.
 * `reasons` ([{path, message}], MG_ERR_EVENT_SCHEMA only) names each JSON
 * pointer into the event's data that breaks its schema.
 * Deliveries come batched: one `events` frame carries what the node had
 * for the connection in one loop turn, so one frame and one client
 * callback serve many events.
 */
export const SUBPROTOCOL_JSON = 'meshgate.v1.json';
export const SUBPROTOCOL_CBOR = 'meshgate.v1.cbor';

export type Ref = string | number;

/** One item of a `pubs` batch, decoded or refused on its own. */
export type PubItem = { readonly ok: true; readonly event: MeshEvent } | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/** Where a stream subscription starts: see StreamStart in broker/streams/stream-reader.ts (docs/protocol.md). */
export type { StreamStart };

/** The stream part of a `sub`: replay from the stream `name`, then follow it. */
export interface StreamSubRequest {
  readonly name: string;
  readonly from: StreamStart;
  /** The epoch the client read its offsets in; another one answers MG_ERR_STREAM_EPOCH. */
  readonly epoch?: string;
}

/** The consumer options of a `consume` (those given; absent ones keep the consumer's own or the defaults). */
export interface ConsumeOptions {
  readonly filter?: string;
  readonly ackWaitMs?: number;
  readonly maxInFlight?: number;
  readonly start?: 'first' | 'new' | { readonly offset: number } | { readonly time: number };
}

/** Most offsets one `ack` may carry. */
export const MAX_ACK_OFFSETS = 4096;

export type ClientRequest =
  | { readonly op: 'sub'; readonly filter: string; readonly stream?: StreamSubRequest; readonly ref?: Ref }
  | { readonly op: 'unsub'; readonly filter: string; readonly stream?: string; readonly ref?: Ref }
  | { readonly op: 'pub'; readonly topic: string; readonly event: MeshEvent; readonly ref?: Ref }
  | { readonly op: 'pubs'; readonly items: readonly PubItem[]; readonly ref?: Ref }
  | { readonly op: 'ping'; readonly ref?: Ref }
  | { readonly op: 'consume'; readonly stream: string; readonly consumer: string; readonly options: ConsumeOptions; readonly ref?: Ref }
  | { readonly op: 'ack'; readonly stream: string; readonly consumer: string; readonly offsets: readonly number[]; readonly ref?: Ref }
  | { readonly op: 'nak'; readonly stream: string; readonly consumer: string; readonly offset: number; readonly delay: number; readonly ref?: Ref };

export type DecodedRequest =
  | { readonly ok: true; readonly request: ClientRequest }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly ref?: Ref };

/** One CBOR encoder for the process: plain maps, no cbor-x record extension, so any CBOR library can read our frames. */
const cbor = new Encoder({ ...CBOR_OPTIONS });

export interface ClientCodec {
  readonly subprotocol: string;
  readonly binary: boolean;
  /** The egress format of event items and batch frames; shared by every session of this flavour. */
  readonly events: EgressFormat;
  /** Decodes one received message. `message` is only valid during the call. */
  decode(message: ArrayBuffer): DecodedRequest;
  encode(reply: Record<string, unknown>): Uint8Array;
  /** An `events` item of a stream subscription: the plain item plus top-level `stream` and `offset`. */
  streamItem(event: MeshEvent, stream: string, offset: number): Uint8Array;
  /**
   * streamItem() straight from a stored peer entry, without decoding it,
   * where the flavour's item embeds the entry's event map as it is (CBOR);
   * absent, or null for an entry it cannot splice: decode and streamItem().
   */
  readonly storedStreamItem?: (peerEntry: Uint8Array, stream: string, offset: number) => Uint8Array | null;
  /** An `events` item of a durable consumer: the plain item plus `stream`, `consumer`, `offset`, `delivery` (count) and `redelivered`. */
  consumerItem(event: MeshEvent, stream: string, consumer: string, offset: number, delivery: number): Uint8Array;
}

const JSON_BATCH_HEAD = Buffer.from('{"op":"events","events":[');
const JSON_BATCH_TAIL = Buffer.from(']}');

export const JSON_CODEC: ClientCodec = {
  subprotocol: SUBPROTOCOL_JSON,
  binary: false,
  events: {
    name: 'meshgate-json',
    binary: false,
    // Built by concatenation: the event part is already JSON text, and
    // converting to UTF-8 once here spares uWS a conversion per subscriber.
    encode: (event) => Buffer.from(`{"topic":${JSON.stringify(event.topic)},"event":${encodeStructuredJson(event)}}`),
    batch(items, from, count) {
      let size = JSON_BATCH_HEAD.length + JSON_BATCH_TAIL.length + count - 1;
      for (let i = from; i < from + count; i++) size += items[i].byteLength;
      const out = Buffer.allocUnsafe(size);
      let at = JSON_BATCH_HEAD.copy(out, 0);
      for (let i = from; i < from + count; i++) {
        if (i > from) out[at++] = 0x2c; // ,
        out.set(items[i], at);
        at += items[i].byteLength;
      }
      JSON_BATCH_TAIL.copy(out, at);
      return out;
    },
  },
  decode(message) {
    const text = Buffer.from(message).toString('utf8');
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      return malformed(`not JSON: ${(err as Error).message}`);
    }
    let elements: Array<[number, number]> | undefined;
    return toRequest(frame, {
      event(topic) {
        const span = topLevelMemberSpan(text, 'event');
        return span === null ? null : decodeStructuredJson(text.slice(span[0], span[1]), topic);
      },
      item(index, topic) {
        // The raw text of items[index].event, so its data bytes stay as sent.
        if (elements === undefined) {
          const items = topLevelMemberSpan(text, 'items');
          elements = items === null ? [] : arrayElementSpans(text, items[0], items[1]);
        }
        const element = elements[index];
        if (element === undefined) return null;
        const elementText = text.slice(element[0], element[1]);
        const span = topLevelMemberSpan(elementText, 'event');
        return span === null ? null : decodeStructuredJson(elementText.slice(span[0], span[1]), topic);
      },
    });
  },
  encode: (reply) => Buffer.from(JSON.stringify(reply)),
  streamItem: (event, stream, offset) =>
    Buffer.from(`{"topic":${JSON.stringify(event.topic)},"stream":${JSON.stringify(stream)},"offset":${offset},"event":${encodeStructuredJson(event)}}`),
  consumerItem: (event, stream, consumer, offset, delivery) =>
    Buffer.from(
      `{"topic":${JSON.stringify(event.topic)},"stream":${JSON.stringify(stream)},"consumer":${JSON.stringify(consumer)},"offset":${offset},"delivery":${delivery},"redelivered":${delivery > 1},"event":${encodeStructuredJson(event)}}`,
    ),
};

/** CBOR head of {"op":"events","events":[...]}: map(2), the two keys, then the array header. */
const CBOR_BATCH_HEAD = Buffer.from([0xa2, 0x62, 0x6f, 0x70, 0x66, ...Buffer.from('events'), 0x66, ...Buffer.from('events')]);

/** The text-string keys a stream item adds. */
const STREAM_KEY = Buffer.from([0x66, ...Buffer.from('stream')]);
const OFFSET_KEY = Buffer.from([0x66, ...Buffer.from('offset')]);

/** The plain CBOR item (map(2) {topic, event}) widened with `extra` key/value pairs, the event map written once. */
function widenItem(item: Uint8Array, extra: ReadonlyArray<readonly [string, unknown]>): Uint8Array {
  const tail = Buffer.concat(extra.flatMap(([k, v]) => [cbor.encode(k), cbor.encode(v)]));
  const out = Buffer.allocUnsafe(item.length + tail.length);
  out.set(item, 0);
  out[0] = 0xa2 + extra.length; // map(n) head, n < 24
  out.set(tail, item.length);
  return out;
}

export const CBOR_CODEC: ClientCodec = {
  subprotocol: SUBPROTOCOL_CBOR,
  binary: true,
  events: {
    name: 'meshgate-cbor',
    binary: true,
    encode: encodeClientItem,
    batch(items, from, count) {
      // Items are complete CBOR values: the frame is a head plus the items
      // as they are, with no re-encoding.
      const arrayHead = count < 24 ? 1 : count < 256 ? 2 : 3;
      let size = CBOR_BATCH_HEAD.length + arrayHead;
      for (let i = from; i < from + count; i++) size += items[i].byteLength;
      const out = Buffer.allocUnsafe(size);
      let at = CBOR_BATCH_HEAD.copy(out, 0);
      if (arrayHead === 1) out[at++] = 0x80 + count;
      else if (arrayHead === 2) {
        out[at++] = 0x98;
        out[at++] = count;
      } else {
        out[at++] = 0x99;
        out.writeUInt16BE(count, at);
        at += 2;
      }
      for (let i = from; i < from + count; i++) {
        out.set(items[i], at);
        at += items[i].byteLength;
      }
      return out;
    },
  },
  decode(message) {
    let frame: unknown;
    try {
      frame = cbor.decode(new Uint8Array(message));
    } catch (err) {
      return malformed(`not CBOR: ${(err as Error).message}`);
    }
    const mapEvent = (map: unknown, topic: string) =>
      typeof map === 'object' && map !== null && !Array.isArray(map) ? eventFromMap(map as Record<string, unknown>, topic) : null;
    return toRequest(frame, {
      event: (topic) => mapEvent((frame as { event?: unknown }).event, topic),
      item: (index, topic) => mapEvent(((frame as { items: Array<{ event?: unknown }> }).items[index] as { event?: unknown }).event, topic),
    });
  },
  encode: (reply) => cbor.encode(reply),
  streamItem: (event, stream, offset) => widenToStreamItem(encodeClientItem(event), stream, offset),
  storedStreamItem(peerEntry, stream, offset) {
    const item = clientItemFromPeerEntry(peerEntry);
    return item === null ? null : widenToStreamItem(item, stream, offset);
  },
  consumerItem: (event, stream, consumer, offset, delivery) =>
    widenItem(encodeClientItem(event), [
      ['stream', stream],
      ['consumer', consumer],
      ['offset', offset],
      ['delivery', delivery],
      ['redelivered', delivery > 1],
    ]),
};

/**
 * A plain CBOR item is map(2) {topic, event}: widen its head to map(4) and
 * append the two keys, so the event map is written once (or, replayed from
 * a store, never).
 */
function widenToStreamItem(item: Uint8Array, stream: string, offset: number): Buffer {
  const tail = Buffer.concat([STREAM_KEY, cbor.encode(stream), OFFSET_KEY, cbor.encode(offset)]);
  const out = Buffer.allocUnsafe(item.length + tail.length);
  out.set(item, 0);
  out[0] = 0xa4;
  out.set(tail, item.length);
  return out;
}

/** Picks the codec for the client's offered subprotocols, in the client's order of preference. */
export function negotiateCodec(offered: string): ClientCodec | null {
  if (offered.trim() === '') return JSON_CODEC;
  for (const name of offered.split(',')) {
    const p = name.trim();
    if (p === SUBPROTOCOL_JSON) return JSON_CODEC;
    if (p === SUBPROTOCOL_CBOR) return CBOR_CODEC;
  }
  return null;
}

type Decoded = ReturnType<typeof decodeStructuredJson> | null;

/** How a flavour decodes the event of a `pub`, and of item `index` of a `pubs`. */
interface EventDecoders {
  event(topic: string): Decoded;
  item(index: number, topic: string): Decoded;
}

/** Most items one `pubs` frame may carry. */
const MAX_PUBS_ITEMS = 4096;

function toRequest(frame: unknown, decoders: EventDecoders): DecodedRequest {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return malformed('a frame must be an object');
  const f = frame as Record<string, unknown>;
  const ref = f.ref;
  if (ref !== undefined && typeof ref !== 'string' && typeof ref !== 'number') return malformed('ref must be a string or a number');
  const r = ref as Ref | undefined;
  switch (f.op) {
    case 'sub': {
      if (typeof f.filter !== 'string') return malformed('sub needs a string filter', r);
      if (f.stream === undefined) {
        if (f.from !== undefined || f.epoch !== undefined) return malformed('from and epoch need a stream', r);
        return { ok: true, request: { op: 'sub', filter: f.filter, ref: r } };
      }
      if (typeof f.stream !== 'string' || f.stream === '') return malformed('stream must be a stream name', r);
      if (f.epoch !== undefined && typeof f.epoch !== 'string') return malformed('epoch must be a string', r);
      const from = streamStart(f.from);
      if (from === null)
        return malformed(
          `from must be "first", "last", "last-per-topic", "new", an offset >= 1 or an RFC 3339 time, got ${JSON.stringify(f.from) ?? 'undefined'}`,
          r,
        );
      const stream: StreamSubRequest = f.epoch === undefined ? { name: f.stream, from } : { name: f.stream, from, epoch: f.epoch };
      return { ok: true, request: { op: 'sub', filter: f.filter, stream, ref: r } };
    }
    case 'unsub':
      if (typeof f.filter !== 'string') return malformed('unsub needs a string filter', r);
      if (f.stream !== undefined && typeof f.stream !== 'string') return malformed('stream must be a stream name', r);
      return {
        ok: true,
        request: f.stream === undefined ? { op: 'unsub', filter: f.filter, ref: r } : { op: 'unsub', filter: f.filter, stream: f.stream, ref: r },
      };
    case 'pub': {
      if (typeof f.topic !== 'string') return malformed('pub needs a string topic', r);
      if (typeof f.event !== 'object' || f.event === null || Array.isArray(f.event)) return malformed('pub needs an event object', r);
      const decoded = decoders.event(f.topic);
      if (decoded === null) return malformed('pub needs an event object', r);
      if (!decoded.ok) {
        return { ok: false, code: 'MG_ERR_EVENT_INVALID', message: `${decoded.problem.attribute}: ${decoded.problem.reason}`, ref: r };
      }
      return { ok: true, request: { op: 'pub', topic: f.topic, event: decoded.event, ref: r } };
    }
    case 'pubs': {
      if (!Array.isArray(f.items)) return malformed('pubs needs an items array', r);
      if (f.items.length > MAX_PUBS_ITEMS) return malformed(`pubs carries at most ${MAX_PUBS_ITEMS} items, got ${f.items.length}`, r);
      const items = (f.items as unknown[]).map((raw, index): PubItem => {
        const item = raw as { topic?: unknown; event?: unknown } | null;
        if (
          typeof item !== 'object' ||
          item === null ||
          typeof item.topic !== 'string' ||
          typeof item.event !== 'object' ||
          item.event === null ||
          Array.isArray(item.event)
        ) {
          return { ok: false, code: 'MG_ERR_FRAME_MALFORMED', message: `items[${index}] needs a string topic and an event object` };
        }
        const decoded = decoders.item(index, item.topic);
        if (decoded === null) return { ok: false, code: 'MG_ERR_FRAME_MALFORMED', message: `items[${index}] needs an event object` };
        if (!decoded.ok) return { ok: false, code: 'MG_ERR_EVENT_INVALID', message: `${decoded.problem.attribute}: ${decoded.problem.reason}` };
        return { ok: true, event: decoded.event };
      });
      return { ok: true, request: { op: 'pubs', items, ref: r } };
    }
    case 'ping':
      return { ok: true, request: { op: 'ping', ref: r } };
    case 'consume':
    case 'ack':
    case 'nak':
      return consumerRequest(f, r);
    default:
      return {
        ok: false,
        code: 'MG_ERR_FRAME_UNKNOWN_OP',
        message: `unknown op ${JSON.stringify(f.op)}; use sub, unsub, pub, pubs, ping, consume, ack or nak`,
        ref: r,
      };
  }
}

/** RFC 3339 date-time: a full date, a time and a zone (Z or ±hh:mm). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `from` of a stream sub; absent means `new`. null when it is none of the accepted forms. */
function streamStart(from: unknown): StreamStart | null {
  if (from === undefined || from === 'new') return 'new';
  if (from === 'first' || from === 'last' || from === 'last-per-topic') return from;
  if (typeof from === 'number') return Number.isSafeInteger(from) && from >= 1 ? { offset: from } : null;
  if (typeof from === 'string' && RFC3339.test(from)) {
    const time = Date.parse(from);
    return Number.isNaN(time) ? null : { time };
  }
  return null;
}

const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/** `consume`, `ack`, `nak`: the frame's shape only; names and options are the consumer registry's to check. */
function consumerRequest(f: Record<string, unknown>, r: Ref | undefined): DecodedRequest {
  const op = f.op as 'consume' | 'ack' | 'nak';
  if (typeof f.stream !== 'string' || f.stream === '') return malformed(`${op} needs a stream name`, r);
  if (typeof f.consumer !== 'string' || f.consumer === '') return malformed(`${op} needs a consumer name`, r);
  const base = { stream: f.stream, consumer: f.consumer, ref: r };
  if (op === 'ack') {
    const offsets = f.offsets ?? (f.offset === undefined ? undefined : [f.offset]);
    if (!Array.isArray(offsets) || offsets.length === 0 || offsets.length > MAX_ACK_OFFSETS || !offsets.every(isOffset))
      return malformed(`ack needs offsets: 1-${MAX_ACK_OFFSETS} offsets >= 1 (or one offset)`, r);
    return { ok: true, request: { op, ...base, offsets } };
  }
  if (op === 'nak') {
    if (!isOffset(f.offset)) return malformed('nak needs an offset >= 1', r);
    const delay = f.delay ?? 0;
    if (typeof delay !== 'number' || !Number.isSafeInteger(delay) || delay < 0 || delay > 86_400_000) return malformed('nak delay: 0-86400000 ms', r);
    return { ok: true, request: { op, ...base, offset: f.offset, delay } };
  }
  const options: { -readonly [K in keyof ConsumeOptions]: ConsumeOptions[K] } = {};
  if (f.filter !== undefined) {
    if (typeof f.filter !== 'string') return malformed('consume filter must be a string', r);
    options.filter = f.filter;
  }
  for (const key of ['ackWaitMs', 'maxInFlight'] as const) {
    if (f[key] === undefined) continue;
    if (typeof f[key] !== 'number') return malformed(`consume ${key} must be a number`, r);
    options[key] = f[key] as number;
  }
  if (f.start !== undefined) {
    const start = streamStart(f.start);
    if (start === null || start === 'last' || start === 'last-per-topic')
      return malformed(`consume start must be "first", "new", an offset >= 1 or an RFC 3339 time, got ${JSON.stringify(f.start)}`, r);
    options.start = start;
  }
  return { ok: true, request: { op: 'consume', ...base, options } };
}

function malformed(message: string, ref?: Ref): DecodedRequest {
  return { ok: false, code: 'MG_ERR_FRAME_MALFORMED', message, ref };
}
