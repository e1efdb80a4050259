/**
 * AMQP 0-9-1 `basic.publish` as wire bytes (spec §4.2.3 general frame
 * format, §4.2.6 content framing, class basic method 40; field-table
 * types as RabbitMQ reads them). Many messages go into one buffer, so a batch
 * costs one stream write and one socket write instead of one per message,
 * and no per-message objects or buffers besides the caller's body:
 *
 * ```
 *   method  01 | ch u16 | size u32 | 003C 0028 | 0000 | exchange | routing key | 00 bits | CE
 *   header  02 | ch u16 | size u32 | 003C 0000 | body size u64 | flags u16 | properties | CE
 *   body    03 | ch u16 | size u32 | at most frameMax - 8 bytes of the body       | CE   (none when empty)
 * ```
 *
 * Properties, in flag order: content-type (bit 15, shortstr), headers
 * (bit 13, field table), delivery-mode (bit 12, octet), message-id
 * (bit 7, shortstr). Table values get the type amqplib gives them
 * (string `S`, boolean `t`, integers `b` `s` `I` `l` by range, other
 * numbers `d`), so a consumer reads the same message whichever encoder
 * wrote it.
 *
 * Buffer lifetime: frames are written into a slab and handed out by
 * `take()` as views; bytes once taken are never written again (the stream
 * and the socket hold them until they are sent). A full slab is left to
 * the views that use it and a new one is allocated.
 */
import { type AttrValue, MeshError } from '../../broker/mod.js';

/** The basic properties the CloudEvents binding sets; what the frame encoder can write. */
export interface PublishProperties {
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, AttrValue>>;
  readonly deliveryMode?: 1 | 2;
  readonly messageId?: string;
}

/**
 * A message these frames can never carry: a routing key (MG_ERR_TOPIC_LIMIT)
 * or a shortstr property or header name over 255 bytes, or a content header
 * over frameMax (MG_ERR_EVENT_TOO_LARGE). Nothing was appended; sending it
 * again cannot succeed.
 */
export class PublishEncodeError extends MeshError {}

/** Bytes per slab; a message larger than this gets a slab of its own size. */
const SLAB_BYTES = 256 * 1024;
/** Frame type, channel, size before the payload; frame-end after it. */
const FRAME_OVERHEAD = 8;
const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_END = 0xce;
const CLASS_BASIC = 60;
const METHOD_PUBLISH = 40;
const FLAG_CONTENT_TYPE = 0x8000;
const FLAG_HEADERS = 0x2000;
const FLAG_DELIVERY_MODE = 0x1000;
const FLAG_MESSAGE_ID = 0x0080;
const TWO_POW_32 = 0x1_0000_0000;
/** Short ASCII strings are copied in a JS loop: cheaper than a native `Buffer#write` call at this size. */
const JS_COPY_MAX = 64;

export class PublishFrameEncoder {
  readonly #channel: number;
  readonly #maxBodyPerFrame: number;
  readonly #frameMax: number;
  #slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  /** First byte not yet taken. */
  #start = 0;
  /** First free byte. */
  #end = 0;

  /** @param frameMax negotiated maximum frame size in bytes, frame overhead included (connection.tune). */
  constructor(channel: number, frameMax: number) {
    this.#channel = channel;
    this.#frameMax = frameMax;
    this.#maxBodyPerFrame = frameMax - FRAME_OVERHEAD;
  }

  /** Bytes appended and not yet taken. */
  get pendingBytes(): number {
    return this.#end - this.#start;
  }

  /** Appends one message's frames. Throws {@link PublishEncodeError} (and appends nothing) when the message cannot be sent as given. */
  append(exchange: string, routingKey: string, body: Uint8Array, props: PublishProperties): void {
    this.#reserve(upperBound(exchange, routingKey, body.byteLength, props, this.#maxBodyPerFrame));
    const buf = this.#slab;
    const base = this.#end;
    const ch = this.#channel;
    try {
      // Method frame: basic.publish(ticket 0, exchange, routing key, mandatory 0, immediate 0).
      let off = base + 7;
      off = buf.writeUInt16BE(CLASS_BASIC, off);
      off = buf.writeUInt16BE(METHOD_PUBLISH, off);
      off = buf.writeUInt16BE(0, off);
      off = writeShortStr(buf, off, exchange, 'exchange');
      off = writeShortStr(buf, off, routingKey, 'routing key', 'MG_ERR_TOPIC_LIMIT');
      buf[off++] = 0;
      off = closeFrame(buf, base, off, FRAME_METHOD, ch);

      // Content header frame.
      const header = off;
      off += 7;
      off = buf.writeUInt16BE(CLASS_BASIC, off);
      off = buf.writeUInt16BE(0, off);
      const size = body.byteLength;
      off = buf.writeUInt32BE(Math.floor(size / TWO_POW_32), off);
      off = buf.writeUInt32BE(size >>> 0, off);
      const flagsAt = off;
      off += 2;
      let flags = 0;
      if (props.contentType !== undefined) {
        flags |= FLAG_CONTENT_TYPE;
        off = writeShortStr(buf, off, props.contentType, 'content-type');
      }
      if (props.headers !== undefined) {
        flags |= FLAG_HEADERS;
        off = writeTable(buf, off, props.headers);
      }
      if (props.deliveryMode !== undefined) {
        flags |= FLAG_DELIVERY_MODE;
        buf[off++] = props.deliveryMode;
      }
      if (props.messageId !== undefined) {
        flags |= FLAG_MESSAGE_ID;
        off = writeShortStr(buf, off, props.messageId, 'message-id');
      }
      buf.writeUInt16BE(flags, flagsAt);
      off = closeFrame(buf, header, off, FRAME_HEADER, ch);
      // The content header is one frame: the broker closes the connection on a frame over frameMax (§4.2.6).
      if (off - header > this.#frameMax)
        throw new PublishEncodeError(
          'MG_ERR_EVENT_TOO_LARGE',
          `content header of ${off - header} bytes exceeds the broker's frame_max ${this.#frameMax}: fewer or shorter attributes`,
        );

      // Body frames.
      for (let at = 0; at < size; at += this.#maxBodyPerFrame) {
        const n = Math.min(this.#maxBodyPerFrame, size - at);
        const frame = off;
        off += 7;
        buf.set(body.subarray(at, at + n), off);
        off = closeFrame(buf, frame, off + n, FRAME_BODY, ch);
      }
      this.#end = off;
    } catch (err) {
      if (err instanceof PublishEncodeError) throw err;
      throw new PublishEncodeError('MG_ERR_EVENT_TOO_LARGE', `cannot encode the message: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The bytes appended since the last take, as a view the caller now owns; null when there are none. */
  take(): Buffer | null {
    if (this.#end === this.#start) return null;
    const out = this.#slab.subarray(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }

  /**
   * Makes room for `bytes` more. The untaken bytes move along to a new
   * slab (nobody holds them yet), twice as large as they need so that a
   * long batch is copied O(1) times per byte, not once per message.
   */
  #reserve(bytes: number): void {
    if (this.#end + bytes <= this.#slab.byteLength) return;
    const pending = this.#end - this.#start;
    const next = Buffer.allocUnsafe(Math.max(SLAB_BYTES, 2 * (pending + bytes)));
    this.#slab.copy(next, 0, this.#start, this.#end);
    this.#slab = next;
    this.#start = 0;
    this.#end = pending;
  }
}

/** Most bytes one message can take: UTF-8 is at most 3 bytes per UTF-16 code unit. */
function upperBound(exchange: string, routingKey: string, bodySize: number, props: PublishProperties, maxBodyPerFrame: number): number {
  let n = FRAME_OVERHEAD + 8 + 2 + 3 * exchange.length + 3 * routingKey.length; // method frame
  n += FRAME_OVERHEAD + 14 + 1 + 2 + 3 * (props.contentType?.length ?? 0) + 3 * (props.messageId?.length ?? 0); // header frame
  const headers = props.headers;
  if (headers !== undefined) {
    n += 4;
    for (const key in headers) {
      const v = headers[key];
      n += 2 + 3 * key.length + (typeof v === 'string' ? 4 + 3 * v.length : 8);
    }
  }
  return n + bodySize + FRAME_OVERHEAD * Math.ceil(bodySize / maxBodyPerFrame);
}

/** Writes type, channel and payload size at `start` and the frame-end octet at `off`; returns the offset after the frame. */
function closeFrame(buf: Buffer, start: number, off: number, type: number, channel: number): number {
  buf[start] = type;
  buf.writeUInt16BE(channel, start + 1);
  buf.writeUInt32BE(off - start - 7, start + 3);
  buf[off] = FRAME_END;
  return off + 1;
}

function writeUtf8(buf: Buffer, off: number, s: string): number {
  const n = s.length;
  if (n <= JS_COPY_MAX) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[off + i] = c;
    }
    if (i === n) return n;
  }
  return buf.write(s, off, 'utf8');
}

function writeShortStr(
  buf: Buffer,
  off: number,
  s: string,
  what: string,
  code: 'MG_ERR_EVENT_TOO_LARGE' | 'MG_ERR_TOPIC_LIMIT' = 'MG_ERR_EVENT_TOO_LARGE',
): number {
  const n = writeUtf8(buf, off + 1, s);
  if (n > 255) throw new PublishEncodeError(code, `${what} is ${n} bytes; AMQP 0-9-1 allows at most 255`);
  buf[off] = n;
  return off + 1 + n;
}

function writeTable(buf: Buffer, off: number, table: Readonly<Record<string, AttrValue>>): number {
  const start = off;
  off += 4;
  for (const key in table) {
    const v = table[key];
    if (v === undefined) continue; // as amqplib: an undefined value is no entry
    off = writeShortStr(buf, off, key, `header name ${JSON.stringify(key)}`);
    if (typeof v === 'string') {
      buf[off] = 0x53; // 'S' long string
      const n = writeUtf8(buf, off + 5, v);
      buf.writeUInt32BE(n, off + 1);
      off += 5 + n;
    } else if (typeof v === 'boolean') {
      buf[off] = 0x74; // 't'
      buf[off + 1] = v ? 1 : 0;
      off += 2;
    } else off = writeNumber(buf, off, v);
  }
  buf.writeUInt32BE(off - start - 4, start);
  return off;
}

/** A number typed as amqplib types it: signed integers in the smallest of b/s/I/l, anything else a double. */
function writeNumber(buf: Buffer, off: number, v: number): number {
  if (v >= 0x8000000000000000 || (Math.abs(v) < 0x4000000000000 && Math.floor(v) !== v)) {
    buf[off] = 0x64; // 'd'
    return buf.writeDoubleBE(v, off + 1);
  }
  if (v >= -128 && v < 128) {
    buf[off] = 0x62; // 'b'
    return buf.writeInt8(v, off + 1);
  }
  if (v >= -0x8000 && v < 0x8000) {
    buf[off] = 0x73; // 's'
    return buf.writeInt16BE(v, off + 1);
  }
  if (v >= -0x80000000 && v < 0x80000000) {
    buf[off] = 0x49; // 'I'
    return buf.writeInt32BE(v, off + 1);
  }
  buf[off] = 0x6c; // 'l'
  return buf.writeBigInt64BE(BigInt(v), off + 1);
}
