import { type AttrValue, checkAttributes, type EventDecodeResult, formatHops, type MeshEvent } from '../../broker/mod.js';

/**
 * The event as the flat attribute list every binary-mode binding writes
 * (MQTT 5 user properties, AMQP headers, NATS headers): specversion, id,
 * source, type, every optional attribute and extension, trace context,
 * and the provenance extensions (mg*). Values keep their CloudEvents type;
 * bindings that carry only strings call {@link canonicalString}.
 *
 * `datacontenttype` is left out when `contentTypeApart` is set: MQTT 5
 * and AMQP carry it in their own content-type property.
 *
 * bridges/amqp/binding.ts writes the same list inline (one object shape
 * per event on its hot path): keep the two in step.
 */
export function flattenEvent(event: MeshEvent, contentTypeApart: boolean): Array<[string, AttrValue]> {
  const out: Array<[string, AttrValue]> = [
    ['specversion', '1.0'],
    ['id', event.id],
    ['source', event.source],
    ['type', event.type],
  ];
  for (const name in event.attrs) {
    if (contentTypeApart && name === 'datacontenttype') continue;
    out.push([name, event.attrs[name]]);
  }
  if (event.traceparent !== undefined) out.push(['traceparent', event.traceparent]);
  if (event.tracestate !== undefined) out.push(['tracestate', event.tracestate]);
  const origin = event.origin;
  if (origin !== undefined) out.push(['mgorigin', origin.node], ['mgprotocol', origin.protocol], ['mgtopic', origin.topic]);
  if (event.hops.length > 0) out.push(['mghops', formatHops(event.hops)]);
  if (event.hlc !== undefined) out.push(['mghlc', event.hlc]);
  return out;
}

/** CloudEvents canonical string of an attribute value ("Type System"): booleans `true`/`false`, integers in decimal. */
export function canonicalString(value: AttrValue): string {
  return typeof value === 'string' ? value : String(value);
}

const NOT_EXTENSION: ReadonlySet<string> = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'traceparent',
  'tracestate',
  'mgorigin',
  'mgprotocol',
  'mgtopic',
  'mghops',
  'mghlc',
]);
const NO_HOPS = Object.freeze([]);

/**
 * Builds an event from attributes a binary-mode binding read (names
 * already stripped of the binding's prefix and lower-cased). Validated as
 * a whole with the broker's checker; provenance (mg*) is dropped because
 * a broker client is never trusted to write it. Never throws.
 */
export function eventFromAttributes(map: Record<string, AttrValue>, topic: string, data: Uint8Array | undefined): EventDecodeResult {
  const problem = checkAttributes(map);
  if (problem !== null) return { ok: false, problem };
  const attrs: Record<string, AttrValue> = {};
  for (const name in map) if (!NOT_EXTENSION.has(name)) attrs[name] = map[name];
  const tp = map.traceparent;
  const ts = map.tracestate;
  return {
    ok: true,
    event: {
      id: map.id as string,
      source: map.source as string,
      type: map.type as string,
      topic,
      data,
      attrs,
      traceparent: typeof tp === 'string' && tp !== '' ? tp : undefined,
      tracestate: typeof ts === 'string' && ts !== '' ? ts : undefined,
      origin: undefined,
      hlc: undefined,
      hops: NO_HOPS,
    },
  };
}
