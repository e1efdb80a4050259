import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Decoder } from 'cbor-x';
import {
  CBOR_OPTIONS,
  decodeEventCbor,
  decodeStructuredJson,
  encodeEventCbor,
  encodePeerEntry,
  encodeStructuredJson,
  eventFromMap,
  formatHlc,
  isHlc,
  type MeshEvent,
  parseHlc,
} from '../../../broker/event/mod.js';
import type { MeshNode, Subscriber } from '../../../broker/pipeline/mod.js';
import { testMeshNode } from '../../helpers/mesh-node.js';

function node(now: () => number = Date.now, hlcMaxAheadMs?: number): MeshNode {
  return testMeshNode({ now, hlcMaxAheadMs });
}

function collector(): Subscriber & { got: MeshEvent[] } {
  const got: MeshEvent[] = [];
  return { got, format: { name: 'test', binary: true, encode: () => new Uint8Array(0), batch: null }, deliver: (_item, e) => void got.push(e) };
}

const FORGED = formatHlc({ physical: 0xfffffffffffff, logical: 0xffff });

test('a producer-set mghlc is discarded by every client decoder and the admitting node stamps its own', () => {
  const json = decodeStructuredJson(JSON.stringify({ specversion: '1.0', id: '1', source: '/s', type: 't', mghlc: FORGED }), 'a.b');
  assert.ok(json.ok);
  assert.equal(json.event.hlc, undefined);
  assert.equal(json.event.attrs.mghlc, undefined, 'not kept as an extension either');
  const cbor = decodeEventCbor(encodeEventCbor({ ...json.event, hlc: FORGED }), 'a.b');
  assert.ok(cbor.ok);
  assert.equal(cbor.event.hlc, undefined);

  const n = node(() => 1_700_000_000_000);
  const sub = collector();
  n.subscribe('a.>', sub);
  // Even an event object that arrives with one (a bridge's own builder) gets the node's stamp.
  for (const protocol of ['ws', 'mqtt', 'postgres', 'system'] as const) n.ingest({ ...json.event, id: protocol, hlc: FORGED }, protocol);
  assert.equal(sub.got.length, 4);
  const stamps = sub.got.map((e) => e.hlc!);
  for (const s of stamps) assert.ok(isHlc(s) && s !== FORGED, s);
  assert.deepEqual(parseHlc(stamps[0]), { physical: 1_700_000_000_000, logical: 0 });
  assert.deepEqual([...stamps].sort(), stamps, 'increasing in admission order');
  assert.equal(new Set(stamps).size, 4);
});

test('a peer event keeps the stamp its first node wrote; the receiving node merges it, and clamps one too far ahead (counted)', () => {
  const wall = 1_000_000;
  const n = node(() => wall, 60_000);
  const sub = collector();
  n.subscribe('a.>', sub);
  const ahead = formatHlc({ physical: wall + 5000, logical: 9 });
  const base: MeshEvent = { id: 'p1', source: '/s', type: 't', topic: 'a.b', attrs: {}, hops: [{ node: 'x', region: 'rx', time: wall }], hlc: ahead };
  n.ingest(base, 'peer');
  assert.equal(sub.got[0].hlc, ahead, 'carried unchanged');
  n.ingest({ ...base, id: 'local', hops: [], hlc: undefined }, 'ws');
  assert.ok(sub.got[1].hlc! > ahead, 'an event admitted after seeing the peer event orders after it');

  const farAhead = formatHlc({ physical: wall + 3_600_000, logical: 0 });
  n.ingest({ ...base, id: 'p2', hlc: farAhead }, 'peer');
  assert.equal(sub.got[2].hlc, farAhead, 'the event keeps its stamp; only the clock refuses to follow');
  assert.equal(n.metrics.snapshot().meshgate_hlc_clamped_total, 1);
  n.ingest({ ...base, id: 'local2', hops: [], hlc: undefined }, 'ws');
  assert.deepEqual(parseHlc(sub.got[3].hlc!), { physical: wall + 60_000, logical: 1 });
});

test('mghlc round-trips trusted through JSON, CBOR and the peer/stream entry writer, and a malformed trusted one is refused', () => {
  const event: MeshEvent = {
    id: '1',
    source: '/s',
    type: 't',
    topic: 'a.b',
    attrs: { subject: 'k' },
    origin: { node: 'n', protocol: 'ws', topic: 'a.b' },
    hlc: '0018bcfe5680000a2',
    hops: [{ node: 'n', region: 'r', time: 5 }],
    data: Buffer.from('{"x":1}'),
  };
  const json = decodeStructuredJson(encodeStructuredJson(event), 'a.b', { trustProvenance: true });
  assert.ok(json.ok);
  assert.equal(json.event.hlc, event.hlc);
  const cbor = decodeEventCbor(encodeEventCbor(event), 'a.b', { trustProvenance: true });
  assert.ok(cbor.ok);
  assert.equal(cbor.event.hlc, event.hlc);
  const entry = new Decoder({ ...CBOR_OPTIONS }).decode(encodePeerEntry(event)) as [string, Record<string, unknown>];
  const fromEntry = eventFromMap(entry[1], entry[0], { trustProvenance: true });
  assert.ok(fromEntry.ok);
  assert.equal(fromEntry.event.hlc, event.hlc);
  const bad = decodeStructuredJson(JSON.stringify({ specversion: '1.0', id: '1', source: '/s', type: 't', mghlc: 'yesterday' }), 'a.b', {
    trustProvenance: true,
  });
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.problem.attribute, 'mghlc');
});
