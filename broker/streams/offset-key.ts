/**
 * Offsets as 8-byte big-endian keys, so lmdb's byte order is offset order
 * and a range read needs no sort. Offsets are safe integers (< 2^53), so
 * the high word is written with a division, not a BigInt.
 */
const HI = 0x1_0000_0000;

export function offsetKey(offset: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeUInt32BE(Math.floor(offset / HI), 0);
  key.writeUInt32BE(offset >>> 0, 4);
  return key;
}

export function keyOffset(key: Uint8Array): number {
  const v = new DataView(key.buffer, key.byteOffset, 8);
  return v.getUint32(0) * HI + v.getUint32(4);
}
