/**
 * Binary-mode decoding shared by the header-based bindings that live in
 * broker/ (the HTTP binding, broker/http/): a flat map of attribute names
 * to values, already stripped of the binding's prefix, lower-cased and
 * percent-decoded, becomes a MeshEvent. Validated as a whole with
 * readAttributes; provenance (mg*) is dropped, a client never writes it.
 */
import type { AttrValue } from './event.js';
import { type EventDecodeResult, eventFromParts, newAttributeParts, readAttributes } from './event-check.js';

/**
 * Decodes one binary-mode event. Never throws.
 *
 * @example
 * eventFromAttributeMap({ specversion: '1.0', id: '1', source: '/s', type: 't' }, 'orders.eu', body)
 */
export function eventFromAttributeMap(map: Readonly<Record<string, AttrValue>>, topic: string, data: Uint8Array | undefined): EventDecodeResult {
  const parts = newAttributeParts();
  const problem = readAttributes(map, parts, false);
  if (problem !== null) return { ok: false, problem };
  return { ok: true, event: eventFromParts(parts, topic, data, undefined, undefined) };
}
