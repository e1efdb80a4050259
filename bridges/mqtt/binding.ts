/**
 * The CloudEvents MQTT protocol binding 1.0.2.
 *
 * MQTT 5 binary mode (§3.1): `datacontenttype` is the PUBLISH Content
 * Type property; every other attribute, extensions included, is a User
 * Property named exactly as the attribute, valued with its canonical
 * string; data is the payload as is.
 * Structured mode (§3.2): the payload is the JSON event format; MQTT 5
 * sets Content Type `application/cloudevents+json`. MQTT 3.1.1 has no
 * properties, so structured is its only mode.
 *
 * Receiving, in order: a Content Type starting with
 * `application/cloudevents` is structured; a `specversion` User Property
 * is binary; a payload that is a JSON object naming `specversion` is
 * structured (a 3.1.1 publisher, or a 3.1.1 message relayed to us);
 * anything else is not a CloudEvent (null: the core wraps it).
 */
import type { IClientPublishOptions } from 'mqtt';
import { type AttrValue, decodeStructuredJson, type EventDecodeResult, encodeStructuredJson, type MeshEvent } from '../../broker/mod.js';
import type { ContentMode } from '../core/mod.js';
import { canonicalString, eventFromAttributes, flattenEvent, looksStructured } from '../core/mod.js';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';
const CE_CONTENT_TYPE = /^application\/cloudevents/i;
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;
const EMPTY = Buffer.alloc(0);

type Properties = NonNullable<IClientPublishOptions['properties']>;

/** PUBLISH payload and (MQTT 5) properties for one event. */
export function encodeMqtt(event: MeshEvent, mode: ContentMode, protocolVersion: 4 | 5): { payload: Buffer; properties: Properties | undefined } {
  if (mode === 'structured' || protocolVersion === 4) {
    return {
      payload: Buffer.from(encodeStructuredJson(event), 'utf8'),
      properties: protocolVersion === 5 ? { contentType: STRUCTURED_CONTENT_TYPE } : undefined,
    };
  }
  const userProperties: Record<string, string> = {};
  for (const [name, value] of flattenEvent(event, true)) userProperties[name] = canonicalString(value);
  const ct = event.attrs.datacontenttype;
  const properties: Properties = { userProperties };
  if (typeof ct === 'string') properties.contentType = ct;
  const data = event.data;
  return { payload: data === undefined ? EMPTY : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), properties };
}

/**
 * The event in one received PUBLISH, or null when it is not a CloudEvent.
 * `payload` must be owned by the caller (copied out of the client's buffers).
 */
export function decodeMqtt(
  payload: Buffer,
  properties: { contentType?: string; userProperties?: Record<string, string | string[]> } | undefined,
  meshTopic: string,
): EventDecodeResult | null {
  const ct = properties?.contentType;
  if (ct !== undefined && CE_CONTENT_TYPE.test(ct)) return decodeStructuredJson(payload.toString('utf8'), meshTopic);
  const up = properties?.userProperties;
  if (up !== undefined && up.specversion !== undefined) {
    const map: Record<string, AttrValue> = {};
    for (const key in up) {
      // Other user properties an application adds ride along unseen; CloudEvents names only.
      if (!ATTRIBUTE_NAME.test(key)) continue;
      const v = up[key];
      map[key] = Array.isArray(v) ? v[0] : v;
    }
    if (ct !== undefined) map.datacontenttype = ct;
    return eventFromAttributes(map, meshTopic, payload.byteLength === 0 ? undefined : payload);
  }
  if (looksStructured(payload)) return decodeStructuredJson(payload.toString('utf8'), meshTopic);
  return null;
}
