/**
 * CloudEvents 1.0 attribute validation shared by every event decoder
 * (structured JSON, CBOR, and the protocol bindings' binary modes).
 *
 * Validators never throw: they return an EventProblem naming the attribute
 * and the reason, or null. Every regular expression is compiled once here.
 *
 * What is enforced, by attribute (CloudEvents 1.0.2 spec.md, "Context
 * Attributes"; JSON format §2.2 for the value mapping):
 *
 *   specversion      REQUIRED, exactly "1.0"
 *   id               REQUIRED, non-empty String
 *   source           REQUIRED, non-empty URI-reference (RFC 3986 §4.1)
 *   type             REQUIRED, non-empty String
 *   time             Timestamp (RFC 3339 §5.6 date-time, range-checked)
 *   dataschema       URI: has a scheme (RFC 3986 §4.3); a fragment is tolerated
 *   datacontenttype  media type per RFC 2046 (type/subtype + parameters, loose),
 *                    at most 1024 characters
 *   subject          non-empty String
 *   extensions       name: 1-20 of a-z 0-9; value: String, Boolean or
 *                    Integer (-2^31 .. 2^31-1); objects and arrays refused
 *   traceparent,     kept when a String, silently dropped otherwise: bad
 *   tracestate       trace context never refuses an event (STYLE, Trace context)
 *   mgorigin, ...    provenance (mgorigin, mgprotocol, mgtopic, mghops, mghlc):
 *                    collected only when trusted, else dropped
 *
 * A `null` value means "unset" (JSON format §2.2: "When decoding attributes
 * and a null value is encountered, it MUST be treated as the equivalent of
 * unset or omitted"), for every attribute.
 *
 * String values must be CloudEvents Strings ("Type System"): no control
 * characters U+0000-U+001F / U+007F-U+009F, no Unicode noncharacters, no
 * unpaired surrogates. This also keeps header-based bindings (MQTT user
 * properties, NATS headers) safe from injected line breaks.
 */
import type { AttrValue, Hop, IngressProtocol, MeshEvent, Origin } from './event.js';
import { isHlc } from './hlc.js';

/** Why an event is not a valid CloudEvent. */
export interface EventProblem {
  /** The CloudEvents attribute (or format member such as `data_base64`) at fault; WHOLE_EVENT for the envelope itself. */
  readonly attribute: string;
  readonly reason: string;
}

/** What every event decoder returns: an event, or the first problem found. Never throws. */
export type EventDecodeResult = { ok: true; event: MeshEvent } | { ok: false; problem: EventProblem };

export interface DecodeOptions {
  /**
   * Keep the `mg*` provenance extensions (peer links only). Off, they are
   * dropped so a client cannot forge provenance.
   * @default false
   */
  readonly trustProvenance?: boolean;
}

/** `attribute` of a problem about the event as a whole (not JSON, not an object, ...). Not a legal attribute name, so never ambiguous. */
export const WHOLE_EVENT = '(event)';

/**
 * What readAttributes collects from one event map; the decoders turn it
 * into a MeshEvent with eventFromParts. One fresh sink per event: `attrs`
 * is handed to the event as is.
 */
export interface AttributeParts {
  id: string;
  source: string;
  type: string;
  attrs: Record<string, AttrValue>;
  traceparent: string | undefined;
  tracestate: string | undefined;
  /** Raw provenance values, collected only with trustProvenance; format-specific (see the codecs). */
  mgorigin: unknown;
  mgprotocol: unknown;
  mgtopic: unknown;
  mghops: unknown;
  mghlc: unknown;
}

/** A fresh, empty AttributeParts. */
export function newAttributeParts(): AttributeParts {
  return {
    id: '',
    source: '',
    type: '',
    attrs: {},
    traceparent: undefined,
    tracestate: undefined,
    mgorigin: undefined,
    mgprotocol: undefined,
    mgtopic: undefined,
    mghops: undefined,
    mghlc: undefined,
  };
}

// --- compiled once -----------------------------------------------------

/**
 * Attribute names (spec.md "Naming Conventions"): lower-case a-z and 0-9
 * only. The spec says names SHOULD NOT exceed 20 characters; meshgate
 * enforces 20 as a hard limit so every name fits every binding's header
 * rules and our metrics labels.
 */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;

/** Characters a CloudEvents String may not hold; with the u flag, \p{Cs} matches only unpaired surrogates. */
const DISALLOWED_IN_STRING = /[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/u;

// Regular expressions below use only character-class loops for unbounded parts: a repeated group
// (`(?:a|b)*`) costs irregexp one backtrack-stack slot per repetition and throws "Maximum call stack
// size exceeded" on multi-megabyte input, and validators must never throw.

// RFC 3986 characters: pchar / "/" / "?" plus "[" "]" (tolerated anywhere, loosely) and "%" (escapes are
// checked by BAD_PERCENT). No "#" in the class: it may appear once, before the fragment.
const URI_CHARS = "[A-Za-z0-9\\-._~:/?@!$&'()*+,;=\\[\\]%]*";
const SCHEME = '[A-Za-z][A-Za-z0-9+.\\-]*:';
/** URI-reference (RFC 3986 §4.1): a URI, or a relative-ref whose first segment has no ':' (§4.2 path-noscheme). */
const URI_REFERENCE = new RegExp(`^(?:${SCHEME}|(?![^/?#]*:))${URI_CHARS}(?:#${URI_CHARS})?$`);
/** URI (RFC 3986 §4.3 absolute-URI), tolerating a fragment as JSON Schema `$id`s with `#` are common. */
const ABSOLUTE_URI = new RegExp(`^${SCHEME}${URI_CHARS}(?:#${URI_CHARS})?$`);
/** A `%` not followed by two hex digits (RFC 3986 §2.1 pct-encoded). */
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z\\-]+";
/**
 * RFC 2046 / RFC 2045 §5.1 media type: type "/" subtype *( ";" attribute "=" value ), value a token or
 * quoted-string. The parameter list is a repeated group, so it is only run through safeTest.
 */
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[^"\\\\\\r\\n]|\\\\.)*"))*[ \\t]*$`);
/**
 * Longest datacontenttype accepted. RFC 6838 §4.2 caps type and subtype at 127 characters each and
 * RFC 2046 a multipart boundary at 70; 1024 leaves room for any real parameter list and keeps the
 * parameter regex far from irregexp's backtrack-stack limit, so the verdict never depends on it.
 */
const MAX_MEDIA_TYPE_LENGTH = 1024;
/** JSON format §3.1.1: subtype `json` or a `+json` suffix, ignoring parameters and case. */
const JSON_MEDIA_TYPE = /^[^/;]+\/(?:[^;]*\+)?json[ \t]*(?:;|$)/i;

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

const INGRESS_PROTOCOLS: ReadonlySet<string> = new Set<IngressProtocol>(['ws', 'http', 'mqtt', 'amqp', 'nats', 'postgres', 'peer', 'system']);

// Problems are constants: no allocation on the refusal path, and stable text for clients.
function p(attribute: string, reason: string): EventProblem {
  return Object.freeze({ attribute, reason });
}
const P = {
  specversionMissing: p('specversion', 'is required and must be "1.0"'),
  specversion: p('specversion', 'must be "1.0" (this node speaks CloudEvents 1.0 only)'),
  idMissing: p('id', 'is required'),
  id: p('id', 'must be a non-empty string'),
  sourceMissing: p('source', 'is required'),
  source: p('source', 'must be a non-empty URI-reference (RFC 3986 §4.1), e.g. "/sensors/42" or "urn:uuid:..."'),
  typeMissing: p('type', 'is required'),
  type: p('type', 'must be a non-empty string'),
  time: p('time', 'must be an RFC 3339 timestamp, e.g. "2024-05-01T12:00:00Z"'),
  dataschema: p('dataschema', 'must be an absolute URI (RFC 3986 §4.3), e.g. "https://example.com/schema.json"'),
  datacontenttype: p('datacontenttype', 'must be an RFC 2046 media type of at most 1024 characters, e.g. "application/json"'),
  subject: p('subject', 'must be a non-empty string'),
} as const;

const STRING_REASON = 'contains a character CloudEvents Strings disallow (control character, noncharacter or unpaired surrogate)';
const EXTENSION_VALUE_REASON =
  'must be a string, a boolean or an integer from -2147483648 to 2147483647 (CloudEvents 1.0 type system); objects, arrays and fractions are not attribute values';
const NAME_REASON =
  'is not a valid attribute name: use 1 to 20 characters from a-z and 0-9 (CloudEvents 1.0 naming conventions; meshgate enforces the 20-character SHOULD)';

// --- small predicates ----------------------------------------------------

/** True for a legal CloudEvents attribute name under meshgate's rules (a-z 0-9, at most 20). */
export function isValidAttributeName(name: string): boolean {
  return ATTRIBUTE_NAME.test(name);
}

/** Names MeshEvent.attrs never holds (event.ts); encoders skip them so a stray one cannot duplicate a member. */
const NOT_IN_ATTRS: ReadonlySet<string> = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'data',
  'traceparent',
  'tracestate',
  'mgorigin',
  'mgprotocol',
  'mgtopic',
  'mghops',
  'mghlc',
]);

/**
 * True for a MeshEvent.attrs key an encoder may write: a valid attribute
 * name that is not a core, trace-context or provenance member. Encoders
 * skip anything else rather than emit an event the next hop would refuse.
 */
export function isWritableAttr(name: string): boolean {
  // Encoders ask for every attribute of every event, and events carry a few
  // names over and over: remembering the verdict beats the regex.
  let verdict = writableVerdicts.get(name);
  if (verdict === undefined) {
    verdict = ATTRIBUTE_NAME.test(name) && !NOT_IN_ATTRS.has(name);
    if (writableVerdicts.size >= 4096) writableVerdicts.clear();
    writableVerdicts.set(name, verdict);
  }
  return verdict;
}
const writableVerdicts = new Map<string, boolean>();

/** True when `value` is a CloudEvents String: no control characters, noncharacters or unpaired surrogates. */
export function isCeString(value: string): boolean {
  return !DISALLOWED_IN_STRING.test(value);
}

/**
 * True when a `datacontenttype` declares JSON content (JSON format
 * §3.1.1): `*\/json` or `*\/*+json`, parameters and case ignored.
 *
 * @example isJsonMediaType('application/cloudevents+json; charset=utf-8') // true
 */
export function isJsonMediaType(contentType: string): boolean {
  return contentType === 'application/json' || JSON_MEDIA_TYPE.test(contentType);
}

/** A `charset` parameter's value (RFC 2045 §5.1), quoted or not. */
const CHARSET_PARAM = /;[ \t]*charset[ \t]*=[ \t]*"?([^";, \t]+)/i;
/** Charsets whose text is UTF-8 as it stands (US-ASCII is a subset). */
const UTF8_CHARSETS: ReadonlySet<string> = new Set(['utf-8', 'utf8', 'us-ascii']);
/** `text/*`; any `*\/xml`, `*\/yaml` or `+xml`/`+yaml` suffix (RFC 7303, RFC 9512, RFC 6839). Parameters ignored. */
const TEXT_FAMILY = /^(?:text\/[^;]+|[^/;]+\/(?:[^;]*\+)?(?:xml|yaml))[ \t]*(?:;|$)/i;
/** Registered or customary textual application types without a suffix to tell them by. */
const TEXT_APPLICATION_TYPES: ReadonlySet<string> = new Set([
  'application/javascript',
  'application/ecmascript',
  'application/x-www-form-urlencoded',
  'application/csv',
  'application/x-yaml',
  'application/toml',
  'application/sql',
  'application/graphql',
  'application/x-ndjson',
]);
/** Verdicts of isTextMediaType: producers reuse a few content types, and the regexes cost more than a lookup. */
const textVerdicts = new Map<string, boolean>();

/**
 * True when a `datacontenttype` declares text, so that the JSON format
 * can carry valid UTF-8 data as a JSON string rather than `data_base64`
 * (JSON format §3.1.2, whose own example is XML as a string). The rule,
 * parameters and case aside:
 *
 *   - a `charset` parameter decides alone: UTF-8 or US-ASCII is text,
 *     any other charset is not (its bytes are not the string's UTF-8);
 *   - otherwise `text/*`, any `.../xml` or `.../yaml`, any `+xml` or
 *     `+yaml` suffix, and application/ javascript, ecmascript,
 *     x-www-form-urlencoded, csv, x-yaml, toml, sql, graphql, x-ndjson.
 *
 * JSON media types are not asked about here: they carry JSON values
 * (isJsonMediaType). The caller still checks the bytes are UTF-8.
 *
 * @example isTextMediaType('application/atom+xml') // true
 * @example isTextMediaType('text/plain; charset=iso-8859-1') // false
 */
export function isTextMediaType(contentType: string): boolean {
  let verdict = textVerdicts.get(contentType);
  if (verdict === undefined) {
    const charset = CHARSET_PARAM.exec(contentType);
    if (charset !== null) verdict = UTF8_CHARSETS.has(charset[1].toLowerCase());
    else {
      const semi = contentType.indexOf(';');
      const essence = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
      verdict = TEXT_FAMILY.test(essence) || TEXT_APPLICATION_TYPES.has(essence);
    }
    if (textVerdicts.size >= 1024) textVerdicts.clear();
    textVerdicts.set(contentType, verdict);
  }
  return verdict;
}

const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** True for an RFC 3339 date-time with real calendar and clock values (leap second 60 allowed, §5.7). */
export function isRfc3339Timestamp(value: string): boolean {
  // RFC 3339 §5.6 date-time, `YYYY-MM-DD(T|t)HH:MM:SS[.frac](Z|z|+HH:MM|-HH:MM)`,
  // then calendar ranges. Read by hand rather than with a capturing regex:
  // most events carry a `time`, and the regex's match array of nine
  // substrings was the largest cost of decoding an event.
  const len = value.length;
  if (len < 20) return false; // YYYY-MM-DDTHH:MM:SSZ
  const year = digitsAt(value, 0, 4);
  const month = digitsAt(value, 5, 2);
  const day = digitsAt(value, 8, 2);
  const hour = digitsAt(value, 11, 2);
  const minute = digitsAt(value, 14, 2);
  const second = digitsAt(value, 17, 2);
  const t = value.charCodeAt(10);
  if ((year | month | day | hour | minute | second) < 0 || (t !== 0x54 && t !== 0x74)) return false;
  if (value.charCodeAt(4) !== 0x2d || value.charCodeAt(7) !== 0x2d || value.charCodeAt(13) !== 0x3a || value.charCodeAt(16) !== 0x3a) return false;
  let i = 19;
  if (value.charCodeAt(i) === 0x2e) {
    const start = ++i;
    while (i < len && isDigit(value.charCodeAt(i))) i++;
    if (i === start) return false;
  }
  const zone = value.charCodeAt(i);
  if (zone === 0x5a || zone === 0x7a) {
    if (i + 1 !== len) return false;
  } else if (zone === 0x2b || zone === 0x2d) {
    const offHour = digitsAt(value, i + 1, 2);
    const offMinute = digitsAt(value, i + 4, 2);
    if (i + 6 !== len || value.charCodeAt(i + 3) !== 0x3a || offHour < 0 || offMinute < 0 || offHour > 23 || offMinute > 59) return false;
  } else return false;
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month]) return false;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return false;
  return hour <= 23 && minute <= 59 && second <= 60;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The value of `count` ASCII digits at `at`, or -1 when any is not a digit (or is past the end). */
function digitsAt(s: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const c = s.charCodeAt(i); // NaN past the end: not a digit
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

// --- validation ----------------------------------------------------------

/** `re.test(value)`, false instead of a throw when irregexp runs out of backtrack stack on absurd input. */
function safeTest(re: RegExp, value: string): boolean {
  try {
    return re.test(value);
  } catch {
    return false;
  }
}

/** The last source that passed: producers send runs of events from one source, and comparing beats two regexes. */
let lastUriReference = '';

function isUriReference(value: string): boolean {
  if (value === lastUriReference) return true;
  const ok = value.length > 0 && URI_REFERENCE.test(value) && !BAD_PERCENT.test(value);
  if (ok) lastUriReference = value;
  return ok;
}

/** The last media type that passed: a producer's events share one, and comparing beats the parameter regex. */
let lastMediaType = '';

function isMediaType(value: string): boolean {
  if (value === lastMediaType) return true;
  const ok = value.length <= MAX_MEDIA_TYPE_LENGTH && safeTest(MEDIA_TYPE, value);
  if (ok) lastMediaType = value;
  return ok;
}

function isAbsoluteUri(value: string): boolean {
  return ABSOLUTE_URI.test(value) && !BAD_PERCENT.test(value);
}

function nonEmptyCeString(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && !DISALLOWED_IN_STRING.test(value);
}

/**
 * Checks one attribute's name and value, for a core attribute or an
 * extension. Trace context and provenance names are not judged here (see
 * readAttributes). `null`/`undefined` values are "unset" and pass.
 *
 * @example checkAttribute('time', 'yesterday') // { attribute: 'time', reason: 'must be an RFC 3339 timestamp, ...' }
 */
export function checkAttribute(name: string, value: unknown): EventProblem | null {
  if (value === null || value === undefined) return null;
  switch (name) {
    case 'specversion':
      return value === '1.0' ? null : P.specversion;
    case 'id':
      return nonEmptyCeString(value) ? null : P.id;
    case 'source':
      return typeof value === 'string' && isUriReference(value) ? null : P.source;
    case 'type':
      return nonEmptyCeString(value) ? null : P.type;
    case 'time':
      return typeof value === 'string' && isRfc3339Timestamp(value) ? null : P.time;
    case 'dataschema':
      return typeof value === 'string' && isAbsoluteUri(value) ? null : P.dataschema;
    case 'datacontenttype':
      return typeof value === 'string' && isMediaType(value) ? null : P.datacontenttype;
    case 'subject':
      return nonEmptyCeString(value) ? null : P.subject;
    default:
      return checkExtension(name, value);
  }
}

function checkExtension(name: string, value: unknown): EventProblem | null {
  if (!ATTRIBUTE_NAME.test(name)) return { attribute: name, reason: NAME_REASON };
  switch (typeof value) {
    case 'string':
      return DISALLOWED_IN_STRING.test(value) ? { attribute: name, reason: STRING_REASON } : null;
    case 'boolean':
      return null;
    case 'number':
      return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX ? null : { attribute: name, reason: EXTENSION_VALUE_REASON };
    default:
      return { attribute: name, reason: EXTENSION_VALUE_REASON };
  }
}

/**
 * Validates every attribute of one event map (a parsed JSON object or a
 * decoded CBOR map) and, when `into` is given, collects them: core and
 * extension attributes into `into.attrs`, trace context and (only when
 * `trustProvenance`) the raw provenance values into their own fields.
 * Format members `data` and `data_base64` are left to the caller.
 * Provenance from an untrusted producer is dropped unseen: a client cannot
 * forge it, and a bogus value does not cost it its event.
 *
 * @example
 * const parts = newAttributeParts();
 * const problem = readAttributes(JSON.parse(text), parts, false);
 * if (problem !== null) refuse(problem);
 */
export function readAttributes(map: Readonly<Record<string, unknown>>, into: AttributeParts | null, trustProvenance: boolean): EventProblem | null {
  const specversion = map.specversion;
  if (specversion !== '1.0') return specversion === undefined || specversion === null ? P.specversionMissing : P.specversion;
  let id = false;
  let source = false;
  let type = false;
  for (const name in map) {
    const value = map[name];
    if (value === null || value === undefined) continue; // unset, JSON format §2.2
    switch (name) {
      case 'specversion':
      case 'data':
      case 'data_base64':
        continue;
      case 'id':
        if (!nonEmptyCeString(value)) return P.id;
        id = true;
        if (into !== null) into.id = value as string;
        continue;
      case 'source':
        if (typeof value !== 'string' || !isUriReference(value)) return P.source;
        source = true;
        if (into !== null) into.source = value;
        continue;
      case 'type':
        if (!nonEmptyCeString(value)) return P.type;
        type = true;
        if (into !== null) into.type = value as string;
        continue;
      case 'traceparent':
        if (into !== null && typeof value === 'string' && value.length > 0 && !DISALLOWED_IN_STRING.test(value)) into.traceparent = value;
        continue;
      case 'tracestate':
        if (into !== null && typeof value === 'string' && value.length > 0 && !DISALLOWED_IN_STRING.test(value)) into.tracestate = value;
        continue;
      case 'mgorigin':
        if (trustProvenance && into !== null) into.mgorigin = value;
        continue;
      case 'mgprotocol':
        if (trustProvenance && into !== null) into.mgprotocol = value;
        continue;
      case 'mgtopic':
        if (trustProvenance && into !== null) into.mgtopic = value;
        continue;
      case 'mghops':
        if (trustProvenance && into !== null) into.mghops = value;
        continue;
      case 'mghlc':
        if (trustProvenance && into !== null) into.mghlc = value;
        continue;
      default: {
        const problem = checkAttribute(name, value);
        if (problem !== null) return problem;
        if (into !== null) into.attrs[name] = value as AttrValue;
      }
    }
  }
  if (!id) return P.idMissing;
  if (!source) return P.sourceMissing;
  if (!type) return P.typeMissing;
  return null;
}

/**
 * Validates one event map without keeping anything: readAttributes with
 * nowhere to put the result.
 *
 * @example checkAttributes({ specversion: '1.0', id: '1', source: '/s' }) // { attribute: 'type', reason: 'is required' }
 */
export function checkAttributes(map: Readonly<Record<string, unknown>>): EventProblem | null {
  return readAttributes(map, null, false);
}

/**
 * The Origin described by trusted `mgorigin`/`mgprotocol`/`mgtopic`
 * values: undefined when none is set, a problem when they are partial or
 * of the wrong type.
 */
export function originFromParts(parts: AttributeParts): Origin | EventProblem | undefined {
  const { mgorigin: node, mgprotocol: protocol, mgtopic: topic } = parts;
  if (node === undefined && protocol === undefined && topic === undefined) return undefined;
  if (typeof node !== 'string' || node.length === 0) return { attribute: 'mgorigin', reason: 'must be the non-empty id of the origin node' };
  if (typeof protocol !== 'string' || !INGRESS_PROTOCOLS.has(protocol)) {
    return { attribute: 'mgprotocol', reason: 'must be one of ws, http, mqtt, amqp, nats, peer, system' };
  }
  if (typeof topic !== 'string') return { attribute: 'mgtopic', reason: 'must be the topic as the producer named it' };
  return { node, protocol: protocol as IngressProtocol, topic };
}

/** True when `value` is an EventProblem rather than a decoded value. */
export function isProblem(value: unknown): value is EventProblem {
  return typeof value === 'object' && value !== null && typeof (value as EventProblem).reason === 'string';
}

const NO_HOPS: readonly Hop[] = Object.freeze([]);
const BAD_HLC: EventProblem = Object.freeze({ attribute: 'mghlc', reason: 'must be a hybrid logical clock stamp: 17 lower-case hex digits' });

/**
 * Builds the MeshEvent from validated parts. Every decoder goes through
 * here, so every event has one object shape (optional fields present as
 * `undefined`), which keeps the broker's property accesses monomorphic.
 */
export function eventFromParts(
  parts: AttributeParts,
  topic: string,
  data: Uint8Array | undefined,
  origin: Origin | undefined,
  hops: readonly Hop[] | undefined,
  hlc?: string,
): MeshEvent {
  return {
    id: parts.id,
    source: parts.source,
    type: parts.type,
    topic,
    data,
    attrs: parts.attrs,
    traceparent: parts.traceparent,
    tracestate: parts.tracestate,
    origin,
    hlc,
    hops: hops === undefined || hops.length === 0 ? NO_HOPS : hops,
  };
}

/**
 * Finishes a decode: with `trust`, reads the provenance from the parts
 * (`hopsOf` parses mghops in the format's own form, null when malformed);
 * without it, provenance stays unset whatever the producer sent.
 */
export function finishDecode(
  parts: AttributeParts,
  topic: string,
  data: Uint8Array | undefined,
  trust: boolean,
  hopsOf: (raw: unknown) => Hop[] | null,
  badHops: EventProblem,
): EventDecodeResult {
  if (!trust) return { ok: true, event: eventFromParts(parts, topic, data, undefined, undefined) };
  const origin = originFromParts(parts);
  if (isProblem(origin)) return { ok: false, problem: origin };
  let hops: Hop[] | undefined;
  if (parts.mghops !== undefined) {
    const h = hopsOf(parts.mghops);
    if (h === null) return { ok: false, problem: badHops };
    hops = h;
  }
  const hlc = parts.mghlc;
  if (hlc !== undefined && !isHlc(hlc)) return { ok: false, problem: BAD_HLC };
  return { ok: true, event: eventFromParts(parts, topic, data, origin, hops, hlc) };
}
