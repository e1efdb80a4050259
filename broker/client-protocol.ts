import { Encoder } from 'cbor-x';
import { decodeStructuredJson, encodeStructuredJson } from './cloudevents-json.js';
import { CBOR_OPTIONS, encodeEventMap, eventFromMap } from './cloudevents-cbor.js';
import type { ErrorCode } from './errors.js';
import type { MeshEvent } from './event.js';
import type { EgressFormat } from './egress.js';
import { topLevelMemberSpan } from './json-span.js';

/**
 * The meshgate client protocol over WebSocket (docs/protocol.md).
 *
 * Two flavours, chosen by Sec-WebSocket-Protocol, carrying the same frames:
 *   meshgate.v1.json  text frames, each one JSON object
 *   meshgate.v1.cbor  binary frames, each one CBOR map; event `data` is a byte string
 *
 * client -> node                                   node -> client
 *   {op:"sub",   filter, ref?}                        {op:"hello", node, region, version, limits}
 *   {op:"unsub", filter, ref?}                        {op:"event", topic, event}
 *   {op:"pub",   topic, event, ref?}                  {op:"ok", ref, duplicate?}
 *   {op:"ping",  ref?}                                {op:"err", ref?, code, message}
 *                                                     {op:"pong", ref?}
 * A request with `ref` is always answered (ok, pong or err); without one,
 * only failures are reported. `event` is a structured-mode CloudEvent.
 */
export const SUBPROTOCOL_JSON = 'meshgate.v1.json';
export const SUBPROTOCOL_CBOR = 'meshgate.v1.cbor';

export type Ref = string | number;

export type ClientRequest =
  | { readonly op: 'sub' | 'unsub'; readonly filter: string; readonly ref?: Ref }
  | { readonly op: 'pub'; readonly topic: string; readonly event: MeshEvent; readonly ref?: Ref }
  | { readonly op: 'ping'; readonly ref?: Ref };

export type DecodedRequest =
  | { readonly ok: true; readonly request: ClientRequest }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly ref?: Ref };

/** One CBOR encoder for the process: plain maps, no cbor-x record extension, so any CBOR library can read our frames. */
const cbor = new Encoder({ ...CBOR_OPTIONS });

export interface ClientCodec {
  readonly subprotocol: string;
  readonly binary: boolean;
  /** The egress format of event frames; shared by every session of this flavour. */
  readonly events: EgressFormat;
  /** Decodes one received message. `message` is only valid during the call. */
  decode(message: ArrayBuffer): DecodedRequest;
  encode(reply: Record<string, unknown>): Uint8Array;
}

export const JSON_CODEC: ClientCodec = {
  subprotocol: SUBPROTOCOL_JSON,
  binary: false,
  events: {
    name: 'meshgate-json',
    binary: false,
    // Built by concatenation: the event part is already JSON text, and
    // converting to UTF-8 once here spares uWS a conversion per subscriber.
    encode: (event) => Buffer.from(`{"op":"event","topic":${JSON.stringify(event.topic)},"event":${encodeStructuredJson(event)}}`),
  },
  decode(message) {
    const text = Buffer.from(message).toString('utf8');
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      return malformed(`not JSON: ${(err as Error).message}`);
    }
    return toRequest(frame, (topic) => {
      const span = topLevelMemberSpan(text, 'event');
      return span === null ? null : decodeStructuredJson(text.slice(span[0], span[1]), topic);
    });
  },
  encode: (reply) => Buffer.from(JSON.stringify(reply)),
};

export const CBOR_CODEC: ClientCodec = {
  subprotocol: SUBPROTOCOL_CBOR,
  binary: true,
  events: {
    name: 'meshgate-cbor',
    binary: true,
    encode: (event) => cbor.encode({ op: 'event', topic: event.topic, event: encodeEventMap(event) }),
  },
  decode(message) {
    let frame: unknown;
    try {
      frame = cbor.decode(new Uint8Array(message));
    } catch (err) {
      return malformed(`not CBOR: ${(err as Error).message}`);
    }
    return toRequest(frame, (topic) => {
      const map = (frame as { event?: unknown }).event;
      return typeof map === 'object' && map !== null ? eventFromMap(map as Record<string, unknown>, topic) : null;
    });
  },
  encode: (reply) => cbor.encode(reply),
};

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

type EventDecoder = (topic: string) => ReturnType<typeof decodeStructuredJson> | null;

function toRequest(frame: unknown, decodeEvent: EventDecoder): DecodedRequest {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return malformed('a frame must be an object');
  const f = frame as Record<string, unknown>;
  const ref = f.ref;
  if (ref !== undefined && typeof ref !== 'string' && typeof ref !== 'number') return malformed('ref must be a string or a number');
  const r = ref as Ref | undefined;
  switch (f.op) {
    case 'sub':
    case 'unsub':
      if (typeof f.filter !== 'string') return malformed(`${f.op} needs a string filter`, r);
      return { ok: true, request: { op: f.op, filter: f.filter, ref: r } };
    case 'pub': {
      if (typeof f.topic !== 'string') return malformed('pub needs a string topic', r);
      if (typeof f.event !== 'object' || f.event === null || Array.isArray(f.event)) return malformed('pub needs an event object', r);
      const decoded = decodeEvent(f.topic);
      if (decoded === null) return malformed('pub needs an event object', r);
      if (!decoded.ok) {
        return { ok: false, code: 'MG_ERR_EVENT_INVALID', message: `${decoded.problem.attribute}: ${decoded.problem.reason}`, ref: r };
      }
      return { ok: true, request: { op: 'pub', topic: f.topic, event: decoded.event, ref: r } };
    }
    case 'ping':
      return { ok: true, request: { op: 'ping', ref: r } };
    default:
      return { ok: false, code: 'MG_ERR_FRAME_UNKNOWN_OP', message: `unknown op ${JSON.stringify(f.op)}; use sub, unsub, pub or ping`, ref: r };
  }
}

function malformed(message: string, ref?: Ref): DecodedRequest {
  return { ok: false, code: 'MG_ERR_FRAME_MALFORMED', message, ref };
}
