import { randomBytes } from 'node:crypto';

/** A new epoch: 16 hex digits, random, so two resets never share one. */
export function mintEpoch(): string {
  return randomBytes(8).toString('hex');
}
