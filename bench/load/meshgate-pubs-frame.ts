/**
 * `pubs` frames for the bench publisher, built the way a NATS client
 * builds its PUB lines (issue 17, item 4): from bytes encoded once, with
 * only what changes per event written per event. An item is
 *
 *   {"topic": <topic>, "event": {"specversion": "1.0", "source": <source>,
 *    "type": "bench", "id": <10 decimal digits>, "data": <payload bytes>}}
 *
 * in plain CBOR (definite lengths, text keys: what cbor-x with the
 * protocol's CBOR_OPTIONS decodes to the same object). Everything up to
 * the id's digits is one pre-encoded run per topic; the id is the
 * sequence number as 10 zero-padded digits written in place (fixed
 * width, so the run never changes), then the data key, its byte-string
 * head and a copy of the payload. The frame head (`{"op": "pubs",
 * "items": [n]}`) is written last, right-aligned before the first item,
 * once the count is known. No object is built or encoded per event.
 */

/** Most bytes a frame head takes: map(2) "op" "pubs" "items" and an array head of up to 3 bytes. */
const FRAME_HEAD_ROOM = 24;

/** A CBOR head: major type `major` and length or count `n` (n < 2^32). */
function cborHead(major: number, n: number): Buffer {
  const m = major << 5;
  if (n < 24) return Buffer.from([m | n]);
  if (n < 0x100) return Buffer.from([m | 24, n]);
  if (n < 0x10000) return Buffer.from([m | 25, n >> 8, n & 0xff]);
  const b = Buffer.from([m | 26, 0, 0, 0, 0]);
  b.writeUInt32BE(n, 1);
  return b;
}

/** Bytes cborHead(_, n) takes. */
function cborHeadBytes(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

function cborText(s: string): Buffer {
  const utf8 = Buffer.from(s, 'utf8');
  return Buffer.concat([cborHead(3, utf8.byteLength), utf8]);
}

/** The frame head before the items' array head. */
const FRAME_HEAD = Buffer.concat([cborHead(5, 2), cborText('op'), cborText('pubs'), cborText('items')]);
/** Digits in every id: enough for any u32 sequence number. */
export const ID_DIGITS = 10;
const ID_HEAD = cborHead(3, ID_DIGITS);
const DATA_KEY = cborText('data');

/** The id a publish with sequence number `seq` carries. */
export function benchEventId(seq: number): string {
  return String(seq).padStart(ID_DIGITS, '0');
}

/** Accumulates `pubs` items into one frame buffer; `take()` hands the frame over and starts the next. */
export class PubsFrameBuilder {
  readonly #source: string;
  readonly #capacity: number;
  #topic = '';
  /** Everything of an item before the id's digits, for `#topic`. */
  #prefix: Buffer = Buffer.alloc(0);
  #buf: Buffer;
  #at = FRAME_HEAD_ROOM;
  #count = 0;

  /** `capacity`: bytes of items a frame holds before `fits` says no (one item always fits). */
  constructor(source: string, capacity = 64 * 1024) {
    this.#source = source;
    this.#capacity = capacity;
    this.#buf = Buffer.allocUnsafe(FRAME_HEAD_ROOM + capacity);
  }

  /** Items in the frame being built. */
  get count(): number {
    return this.#count;
  }

  #prefixFor(topic: string): Buffer {
    if (topic !== this.#topic) {
      this.#topic = topic;
      this.#prefix = Buffer.concat([
        cborHead(5, 2),
        cborText('topic'),
        cborText(topic),
        cborText('event'),
        cborHead(5, 5),
        cborText('specversion'),
        cborText('1.0'),
        cborText('source'),
        cborText(this.#source),
        cborText('type'),
        cborText('bench'),
        cborText('id'),
        ID_HEAD,
      ]);
    }
    return this.#prefix;
  }

  /** Bytes one item for `topic` with `payloadBytes` of data takes. */
  itemBytes(topic: string, payloadBytes: number): number {
    return this.#prefixFor(topic).byteLength + ID_DIGITS + DATA_KEY.byteLength + cborHeadBytes(payloadBytes) + payloadBytes;
  }

  /** Whether an item of `bytes` fits in the frame being built (always, in an empty frame). */
  fits(bytes: number): boolean {
    return this.#count === 0 || this.#at - FRAME_HEAD_ROOM + bytes <= this.#capacity;
  }

  /** Appends one item: `payload` is copied, so the caller may reuse it. */
  add(topic: string, payload: Uint8Array, seq: number): void {
    const prefix = this.#prefixFor(topic);
    const n = payload.byteLength;
    const size = prefix.byteLength + ID_DIGITS + DATA_KEY.byteLength + 5 + n;
    if (this.#at + size > this.#buf.byteLength) {
      // Only an item bigger than the capacity (in an empty frame) gets here.
      const grown = Buffer.allocUnsafe(this.#at + size);
      this.#buf.copy(grown, 0, 0, this.#at);
      this.#buf = grown;
    }
    const buf = this.#buf;
    let at = this.#at + prefix.copy(buf, this.#at);
    for (let i = ID_DIGITS - 1, v = seq; i >= 0; i--, v = Math.floor(v / 10)) buf[at + i] = 0x30 + (v % 10);
    at += ID_DIGITS;
    at += DATA_KEY.copy(buf, at);
    // The byte-string head of the data, written by hand: the common sizes.
    if (n < 24) buf[at++] = 0x40 | n;
    else if (n < 0x100) {
      buf[at++] = 0x58;
      buf[at++] = n;
    } else if (n < 0x10000) {
      buf[at++] = 0x59;
      buf[at++] = n >> 8;
      buf[at++] = n & 0xff;
    } else {
      buf[at++] = 0x5a;
      buf.writeUInt32BE(n, at);
      at += 4;
    }
    buf.set(payload, at);
    this.#at = at + n;
    this.#count++;
  }

  /** The finished frame (its own buffer: the caller may keep it), or null when empty; the next frame starts empty. */
  take(): Buffer | null {
    if (this.#count === 0) return null;
    const head = cborHead(4, this.#count);
    const start = FRAME_HEAD_ROOM - FRAME_HEAD.byteLength - head.byteLength;
    FRAME_HEAD.copy(this.#buf, start);
    head.copy(this.#buf, FRAME_HEAD_ROOM - head.byteLength);
    const frame = this.#buf.subarray(start, this.#at);
    // A fresh buffer per frame: ws may still hold the last one (a send is
    // queued behind a slow socket); one allocation per frame, not per event.
    this.#buf = Buffer.allocUnsafe(FRAME_HEAD_ROOM + this.#capacity);
    this.#at = FRAME_HEAD_ROOM;
    this.#count = 0;
    return frame;
  }
}
