/**
 * A deliberately tiny AMQP 0-9-1 client for tests and broker readiness
 * probes: connection handshake (PLAIN), one channel, queue.declare,
 * basic.publish, basic.get, close. No consumers, no confirms, no
 * heartbeats (we negotiate heartbeat 0). It is NOT the bridge's client;
 * it exists so the broker helpers need no npm dependency to prove that a
 * RabbitMQ instance is really ready (the TCP port accepts connections
 * several seconds before the vhost can open a connection).
 *
 * Wire format (AMQP 0-9-1 §4.2.3):
 * ```
 *  +------+---------+---------+-------------+-----------+
 *  | type | channel |  size   |   payload   | frame-end |
 *  |  u8  |   u16   |   u32   | size bytes  |   0xCE    |
 *  +------+---------+---------+-------------+-----------+
 *  method payload:  class-id u16 | method-id u16 | arguments
 * ```
 */
import net from 'node:net';

const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_HEARTBEAT = 8;
const FRAME_END = 0xce;
const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]); // "AMQP" 0 0 9 1

interface Frame {
  readonly type: number;
  readonly channel: number;
  readonly payload: Buffer;
}

/** Error raised when the server closes the connection or channel, or a step times out. */
export class AmqpMiniError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

class Writer {
  #parts: Buffer[] = [];
  u8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(v);
    this.#parts.push(b);
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.#parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.#parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.#parts.push(b);
    return this;
  }
  shortstr(s: string): this {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new RangeError(`shortstr longer than 255 bytes: ${s.slice(0, 40)}…`);
    return this.u8(b.length).bytes(b);
  }
  longstr(s: string | Uint8Array): this {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
    return this.u32(b.length).bytes(b);
  }
  emptyTable(): this {
    return this.u32(0);
  }
  bytes(b: Uint8Array): this {
    this.#parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

class Reader {
  #off = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number {
    const v = this.buf.readUInt8(this.#off);
    this.#off += 1;
    return v;
  }
  u16(): number {
    const v = this.buf.readUInt16BE(this.#off);
    this.#off += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.#off);
    this.#off += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.#off);
    this.#off += 8;
    return v;
  }
  shortstr(): string {
    const n = this.u8();
    const s = this.buf.toString('utf8', this.#off, this.#off + n);
    this.#off += n;
    return s;
  }
  longstr(): Buffer {
    const n = this.u32();
    const s = this.buf.subarray(this.#off, this.#off + n);
    this.#off += n;
    return s;
  }
}

function frame(type: number, channel: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(7 + payload.length + 1);
  out.writeUInt8(type, 0);
  out.writeUInt16BE(channel, 1);
  out.writeUInt32BE(payload.length, 3);
  payload.copy(out, 7);
  out.writeUInt8(FRAME_END, 7 + payload.length);
  return out;
}

function method(classId: number, methodId: number, args: Writer = new Writer()): Buffer {
  return Buffer.concat([new Writer().u16(classId).u16(methodId).build(), args.build()]);
}

/** A message fetched with {@link AmqpMiniConnection.get}. */
export interface AmqpMiniMessage {
  readonly body: Buffer;
  readonly routingKey: string;
  readonly exchange: string;
  readonly redelivered: boolean;
}

export interface AmqpMiniOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  readonly port: number;
  /** @default 'guest' */
  readonly user?: string;
  /** @default 'guest' */
  readonly password?: string;
  /** @default '/' */
  readonly vhost?: string;
  /** Milliseconds for each protocol step. @default 5000 */
  readonly stepTimeoutMs?: number;
}

/**
 * One AMQP connection with channel 1 open.
 * @example
 * const c = await AmqpMiniConnection.open({ port });
 * await c.declareQueue('q', { durable: true });
 * c.publish('', 'q', Buffer.from('hi'), { persistent: true });
 * const m = await c.get('q');
 * await c.close();
 */
export class AmqpMiniConnection {
  #socket: net.Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #frames: Frame[] = [];
  #waiter: ((f: Frame | Error) => void) | null = null;
  #error: Error | null = null;
  #stepTimeoutMs: number;
  /** Server properties from connection.start (product, version…). */
  serverProperties: Buffer = Buffer.alloc(0);

  private constructor(socket: net.Socket, stepTimeoutMs: number) {
    this.#socket = socket;
    this.#stepTimeoutMs = stepTimeoutMs;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(new AmqpMiniError('MG_ERR_AMQP_SOCKET', `socket error: ${err.message}`, { cause: err })));
    socket.on('close', () => this.#fail(new AmqpMiniError('MG_ERR_AMQP_CLOSED', 'socket closed by peer')));
  }

  /** Connects, authenticates with PLAIN, opens the vhost and channel 1. */
  static async open(opts: AmqpMiniOptions): Promise<AmqpMiniConnection> {
    const stepTimeoutMs = opts.stepTimeoutMs ?? 5000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: opts.host ?? '127.0.0.1', port: opts.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new AmqpMiniError('MG_ERR_AMQP_TIMEOUT', 'TCP connect timed out'));
      }, stepTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new AmqpMiniError('MG_ERR_AMQP_SOCKET', `connect: ${err.message}`, { cause: err }));
      });
    });
    socket.setNoDelay(true);
    const c = new AmqpMiniConnection(socket, stepTimeoutMs);
    try {
      await c.#handshake(opts);
    } catch (err) {
      c.destroy();
      throw err;
    }
    return c;
  }

  async #handshake(opts: AmqpMiniOptions): Promise<void> {
    this.#socket.write(PROTOCOL_HEADER);
    // connection.start (10,10)
    const start = await this.#expectMethod(0, 10, 10);
    const r = new Reader(start);
    r.u8();
    r.u8();
    this.serverProperties = r.longstr();
    const user = opts.user ?? 'guest';
    const pass = opts.password ?? 'guest';
    // connection.start-ok (10,11)
    this.#send(0, method(10, 11, new Writer().emptyTable().shortstr('PLAIN').longstr(`\u0000${user}\u0000${pass}`).shortstr('en_US')));
    // connection.tune (10,30)
    const tune = new Reader(await this.#expectMethod(0, 10, 30));
    const channelMax = tune.u16();
    const frameMax = tune.u32();
    tune.u16();
    // connection.tune-ok (10,31): heartbeat 0 = disabled.
    this.#send(0, method(10, 31, new Writer().u16(channelMax).u32(frameMax).u16(0)));
    // connection.open (10,40)
    this.#send(
      0,
      method(
        10,
        40,
        new Writer()
          .shortstr(opts.vhost ?? '/')
          .shortstr('')
          .u8(0),
      ),
    );
    await this.#expectMethod(0, 10, 41);
    // channel.open (20,10) on channel 1
    this.#send(1, method(20, 10, new Writer().shortstr('')));
    await this.#expectMethod(1, 20, 11);
  }

  /** queue.declare on channel 1. Returns the message count the broker reports. */
  async declareQueue(
    name: string,
    opts: { durable?: boolean; autoDelete?: boolean; exclusive?: boolean } = {},
  ): Promise<{ queue: string; messageCount: number }> {
    // bits: passive(0) durable(1) exclusive(2) auto-delete(3) no-wait(4)
    const bits = (opts.durable ? 2 : 0) | (opts.exclusive ? 4 : 0) | (opts.autoDelete ? 8 : 0);
    this.#send(1, method(50, 10, new Writer().u16(0).shortstr(name).u8(bits).emptyTable()));
    const r = new Reader(await this.#expectMethod(1, 50, 11));
    const queue = r.shortstr();
    const messageCount = r.u32();
    return { queue, messageCount };
  }

  /** basic.publish + content header + body (fire and forget: no confirms). */
  publish(exchange: string, routingKey: string, body: Uint8Array, opts: { persistent?: boolean } = {}): void {
    const frames: Buffer[] = [];
    frames.push(frame(FRAME_METHOD, 1, method(60, 40, new Writer().u16(0).shortstr(exchange).shortstr(routingKey).u8(0))));
    // content header: class 60, weight 0, body size, property flags.
    // Flag bit 12 (0x1000) = delivery-mode; 2 = persistent.
    const header = new Writer().u16(60).u16(0).u64(BigInt(body.byteLength));
    if (opts.persistent) header.u16(0x1000).u8(2);
    else header.u16(0);
    frames.push(frame(FRAME_HEADER, 1, header.build()));
    if (body.byteLength > 0) frames.push(frame(FRAME_BODY, 1, Buffer.from(body)));
    this.#socket.write(Buffer.concat(frames));
  }

  /** basic.get with auto-ack. Resolves null on get-empty. */
  async get(queue: string): Promise<AmqpMiniMessage | null> {
    this.#send(1, method(60, 70, new Writer().u16(0).shortstr(queue).u8(1)));
    const f = await this.#nextFrame();
    const r = new Reader(f.payload);
    const classId = r.u16();
    const methodId = r.u16();
    if (classId === 60 && methodId === 72) return null; // get-empty
    if (classId !== 60 || methodId !== 71) throw this.#unexpected(f, 'basic.get-ok');
    r.u64(); // delivery tag
    const redelivered = (r.u8() & 1) === 1;
    const exchange = r.shortstr();
    const routingKey = r.shortstr();
    const h = await this.#nextFrame();
    if (h.type !== FRAME_HEADER) throw this.#unexpected(h, 'content header');
    const size = Number(new Reader(h.payload.subarray(4)).u64());
    const parts: Buffer[] = [];
    let got = 0;
    while (got < size) {
      const b = await this.#nextFrame();
      if (b.type !== FRAME_BODY) throw this.#unexpected(b, 'content body');
      parts.push(b.payload);
      got += b.payload.length;
    }
    return { body: Buffer.concat(parts), exchange, routingKey, redelivered };
  }

  /** connection.close and wait for close-ok, then end the socket. */
  async close(): Promise<void> {
    if (this.#error) {
      this.destroy();
      return;
    }
    this.#send(0, method(10, 50, new Writer().u16(200).shortstr('bye').u16(0).u16(0)));
    try {
      await this.#expectMethod(0, 10, 51);
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #send(channel: number, payload: Buffer): void {
    this.#socket.write(frame(FRAME_METHOD, channel, payload));
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#buffer.length < 7) return;
      // A server that rejects our protocol header answers with its own
      // 8-byte header "AMQP...." and closes [AMQP 0-9-1 §4.2.2].
      if (this.#buffer[0] === 0x41) {
        this.#fail(new AmqpMiniError('MG_ERR_AMQP_PROTOCOL', 'server rejected protocol header'));
        return;
      }
      const size = this.#buffer.readUInt32BE(3);
      if (this.#buffer.length < 8 + size) return;
      const f: Frame = {
        type: this.#buffer.readUInt8(0),
        channel: this.#buffer.readUInt16BE(1),
        // copy: the accumulation buffer is replaced on the next chunk anyway,
        // but subarray keeps the whole chunk alive; frames here are small.
        payload: Buffer.from(this.#buffer.subarray(7, 7 + size)),
      };
      if (this.#buffer.readUInt8(7 + size) !== FRAME_END) {
        this.#fail(new AmqpMiniError('MG_ERR_AMQP_PROTOCOL', 'bad frame-end octet'));
        return;
      }
      this.#buffer = this.#buffer.subarray(8 + size);
      if (f.type === FRAME_HEARTBEAT) continue;
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = null;
        w(f);
      } else {
        this.#frames.push(f);
      }
    }
  }

  #fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(err);
    }
  }

  #nextFrame(): Promise<Frame> {
    const queued = this.#frames.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        reject(new AmqpMiniError('MG_ERR_AMQP_TIMEOUT', `no frame from server within ${this.#stepTimeoutMs} ms`));
      }, this.#stepTimeoutMs);
      this.#waiter = (f) => {
        clearTimeout(timer);
        if (f instanceof Error) reject(f);
        else resolve(f);
      };
    });
  }

  async #expectMethod(channel: number, classId: number, methodId: number): Promise<Buffer> {
    const f = await this.#nextFrame();
    if (f.type === FRAME_METHOD && f.channel === channel && f.payload.readUInt16BE(0) === classId && f.payload.readUInt16BE(2) === methodId) {
      return f.payload.subarray(4);
    }
    throw this.#unexpected(f, `method ${classId},${methodId}`);
  }

  #unexpected(f: Frame, wanted: string): AmqpMiniError {
    if (f.type === FRAME_METHOD && f.payload.length >= 4) {
      const cls = f.payload.readUInt16BE(0);
      const mth = f.payload.readUInt16BE(2);
      // connection.close (10,50) / channel.close (20,40): reply-code, reply-text
      if ((cls === 10 && mth === 50) || (cls === 20 && mth === 40)) {
        const r = new Reader(f.payload.subarray(4));
        const code = r.u16();
        const text = r.shortstr();
        return new AmqpMiniError('MG_ERR_AMQP_SERVER_CLOSE', `server closed ${cls === 10 ? 'connection' : 'channel'}: ${code} ${text}`);
      }
      return new AmqpMiniError('MG_ERR_AMQP_PROTOCOL', `expected ${wanted}, got method ${cls},${mth}`);
    }
    return new AmqpMiniError('MG_ERR_AMQP_PROTOCOL', `expected ${wanted}, got frame type ${f.type}`);
  }
}
