/**
 * Reads a request body from uWS with a running byte count: a body that
 * passes `limit` is refused as soon as the count does (its Content-Length,
 * when given, is checked before any byte is read), so a client cannot make
 * the node buffer more than `limit` bytes for it.
 *
 * Buffer lifetime: uWS neuters each chunk's ArrayBuffer when onData
 * returns, so every chunk is copied before the callback ends; the body
 * handed on is a fresh Buffer the caller owns.
 */
import type { HttpResponse } from 'uWebSockets.js';

export type BodyOutcome = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly size: number };

/**
 * Calls `done` once: with the body, or with the size seen when it passed
 * `limit`. Nothing is called when the client goes away first (`aborted`
 * tells the caller; the caller must have set res.onAborted).
 */
export function readBody(res: HttpResponse, contentLength: string, limit: number, done: (outcome: BodyOutcome) => void): void {
  const declared = contentLength === '' ? -1 : Number(contentLength);
  if (declared > limit) {
    done({ ok: false, size: declared });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (over) return;
    size += chunk.byteLength;
    if (size > limit) {
      over = true;
      chunks.length = 0;
      done({ ok: false, size });
      return;
    }
    chunks.push(Buffer.from(chunk.slice(0))); // a copy: uWS neuters `chunk` on return
    if (isLast) done({ ok: true, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
  });
}
