import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startTestNode } from '../../helpers/node.js';

/** A raw WebSocket client over TCP, so the test controls exactly how bytes are split. */
async function rawClient(port: number): Promise<{ socket: Socket; read: () => Promise<Buffer> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    `GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: meshgate.v1.json\r\n\r\n`,
  );
  let buffer = Buffer.alloc(0);
  let waiter: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    waiter?.();
  });
  const need = async (n: number) => {
    while (buffer.length < n) await new Promise<void>((r) => (waiter = r));
  };
  // Skip the 101 response.
  for (;;) {
    const end = buffer.indexOf('\r\n\r\n');
    if (end >= 0) {
      assert.match(buffer.subarray(0, end).toString(), /^HTTP\/1\.1 101/);
      buffer = buffer.subarray(end + 4);
      break;
    }
    await new Promise<void>((r) => (waiter = r));
  }
  /** Reads one unmasked server frame's payload (small frames only). */
  const read = async () => {
    await need(2);
    const len = buffer[1] & 0x7f;
    const headLen = len === 126 ? 4 : 2;
    await need(headLen);
    const size = len === 126 ? buffer.readUInt16BE(2) : len;
    await need(headLen + size);
    const payload = Buffer.from(buffer.subarray(headLen, headLen + size));
    buffer = buffer.subarray(headLen + size);
    return payload;
  };
  return { socket, read };
}

/** One masked client text frame. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, mask, masked]);
}

test('a publish frame split at every byte boundary is reassembled and acked each time', async (t) => {
  const node = await startTestNode(t);
  const { socket, read } = await rawClient(node.port);
  t.after(() => socket.destroy());
  assert.match((await read()).toString(), /"op":"hello"/);
  const frameOf = (i: number) =>
    textFrame(JSON.stringify({ op: 'pub', ref: i, topic: 'split.t', event: { specversion: '1.0', id: `s${i}`, source: 'split', type: 't', data: { i } } }));
  const size = frameOf(0).length;
  for (let cut = 1; cut < size; cut++) {
    const frame = frameOf(cut);
    socket.write(frame.subarray(0, cut));
    // Wait until the first part has left, so the node really reads two pieces.
    await new Promise<void>((r) => socket.write(Buffer.alloc(0), () => r()));
    socket.write(frame.subarray(cut));
    assert.equal((await read()).toString(), `{"op":"ok","ref":${cut}}`);
  }
  // And byte by byte.
  const frame = frameOf(9999);
  for (const byte of frame) socket.write(Buffer.from([byte]));
  assert.equal((await read()).toString(), '{"op":"ok","ref":9999}');
});

test('a text frame that is not valid UTF-8 drops that connection, is counted, and others keep working', async (t) => {
  const node = await startTestNode(t);
  const { socket, read } = await rawClient(node.port);
  t.after(() => socket.destroy());
  await read();
  const bad = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
  const mask = Buffer.alloc(4);
  const closed = once(socket, 'close');
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | bad.length]), mask, bad]));
  // uWS drops the TCP connection itself (RFC 6455 §8.1 "fail the
  // connection"); it sends no 1007 close frame and cannot be told to.
  await closed;
  const rejected = node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>;
  assert.equal(rejected['code=MG_ERR_FRAME_MALFORMED'], 1);
  const other = await rawClient(node.port);
  t.after(() => other.socket.destroy());
  assert.match((await other.read()).toString(), /"op":"hello"/);
});
