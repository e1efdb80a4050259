import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatHlc, HLC_LENGTH, HybridClock, isHlc, parseHlc } from '../../../broker/event/mod.js';

function manualClock(start: number): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => void (t = v) };
}

test('formatHlc() is fixed width and its text order is clock order; parseHlc() reads it back', () => {
  const readings = [
    { physical: 0, logical: 0 },
    { physical: 0, logical: 1 },
    { physical: 1, logical: 0 },
    { physical: 1_700_000_000_000, logical: 0xa2 },
    { physical: 1_700_000_000_000, logical: 0xffff },
    { physical: 1_700_000_000_001, logical: 0 },
    { physical: 0xfffffffffffff, logical: 0xffff },
  ];
  const stamps = readings.map(formatHlc);
  for (const s of stamps) assert.equal(s.length, HLC_LENGTH);
  assert.deepEqual([...stamps].sort(), stamps, 'sorted as text = sorted as clock');
  assert.equal(formatHlc({ physical: 1_700_000_000_000, logical: 0xa2 }), '0018bcfe5680000a2');
  for (const [i, s] of stamps.entries()) assert.deepEqual(parseHlc(s), readings[i]);
  for (const bad of ['', '0018bcfe5680000a', '0018BCFE5680000A2', '0018bcfe5680000a2x', 'g018bcfe5680000a2', 42, null]) {
    assert.equal(isHlc(bad), false, String(bad));
    if (typeof bad === 'string') assert.equal(parseHlc(bad), null);
  }
});

test('HybridClock.tick() is strictly increasing when the wall clock stands still or goes backwards', () => {
  const wall = manualClock(1_000_000);
  const clock = new HybridClock({ now: wall.now });
  const stamps: string[] = [];
  for (let i = 0; i < 1000; i++) stamps.push(clock.tick());
  wall.set(999_000); // NTP stepped the clock back a second
  for (let i = 0; i < 1000; i++) stamps.push(clock.tick());
  wall.set(1_000_005);
  stamps.push(clock.tick());
  for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i] > stamps[i - 1], `${stamps[i]} > ${stamps[i - 1]} at ${i}`);
  assert.deepEqual(parseHlc(stamps[0]), { physical: 1_000_000, logical: 0 });
  assert.deepEqual(parseHlc(stamps.at(-1)!), { physical: 1_000_005, logical: 0 }, 'back to wall time once it passes the clock');
});

test('HybridClock.tick() borrows the next millisecond when 65,536 events share one', () => {
  const clock = new HybridClock({ now: () => 5000 });
  let last = '';
  for (let i = 0; i < 0x10001; i++) {
    const s = clock.tick();
    assert.ok(s > last);
    last = s;
  }
  assert.deepEqual(parseHlc(last), { physical: 5001, logical: 0 });
});

test('HybridClock.merge(): the next tick orders after a peer stamp ahead of the local clock, and after the local past', () => {
  const wall = manualClock(10_000);
  const clock = new HybridClock({ now: wall.now });
  const before = clock.tick();
  const remote = formatHlc({ physical: 12_000, logical: 7 }); // a peer 2 s ahead
  assert.equal(clock.merge(remote), true);
  const after = clock.tick();
  assert.ok(after > remote && after > before);
  assert.deepEqual(parseHlc(after), { physical: 12_000, logical: 8 });
  // A stamp from the past changes nothing but still orders the next tick after it.
  assert.equal(clock.merge(formatHlc({ physical: 3000, logical: 1 })), true);
  assert.deepEqual(parseHlc(clock.tick()), { physical: 12_000, logical: 9 });
  // Same physical as ours, higher logical: the logical counter follows.
  clock.merge(formatHlc({ physical: 12_000, logical: 500 }));
  assert.deepEqual(parseHlc(clock.tick()), { physical: 12_000, logical: 501 });
  // The wall clock catches up: the clock is wall time again.
  wall.set(13_000);
  assert.deepEqual(parseHlc(clock.tick()), { physical: 13_000, logical: 0 });
  assert.equal(clock.merge('not-a-stamp'), false);
});

test('HybridClock.merge() follows a stamp too far ahead only up to maxAheadMs, and reports the clamp', () => {
  let clamps = 0;
  const clock = new HybridClock({ now: () => 100_000, maxAheadMs: 60_000, onClamp: () => clamps++ });
  const year = 365 * 24 * 3600 * 1000;
  clock.merge(formatHlc({ physical: 100_000 + year, logical: 3 }));
  assert.equal(clamps, 1);
  assert.deepEqual(parseHlc(clock.tick()), { physical: 160_000, logical: 1 }, 'followed to wall + 60 s, not a year');
  clock.merge(formatHlc({ physical: 159_000, logical: 0 })); // within the bound: no clamp
  clock.merge(formatHlc({ physical: 160_000, logical: 0 })); // exactly at it: no clamp
  assert.equal(clamps, 1);
});
