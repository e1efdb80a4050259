import type { ErrorObject } from 'ajv';
import type { SchemaRegistry } from '../../schemas/mod.js';
import type { MeshEvent } from '../event/mod.js';
import { isJsonMediaType } from '../event/mod.js';

/** One way an event's data breaks its schema, as err frames and dead letters carry it. */
export interface SchemaReason {
  /** JSON pointer (RFC 6901) into the event's `data`; "" for the data as a whole. */
  readonly path: string;
  /** ajv's message, e.g. "must be integer", or why the data could not be checked at all. */
  readonly message: string;
}

/**
 * What the node asks at ingress (first node only: later hops trust the
 * provenance stamp). A seam so the node depends on the question, not on
 * the registry: tests and a future remote registry plug in here.
 */
export interface EventValidator {
  /** null when the event may pass (no schema applies, or its data matches); otherwise at least one reason. Never throws. */
  check(event: MeshEvent): readonly SchemaReason[] | null;
}

export interface IngressValidatorOptions {
  /**
   * Most reasons reported for one event. The registry compiles with ajv's
   * `allErrors`, so a producer learns every problem in one round trip; the
   * cap keeps the err frame and the dead letter small whatever the data (an
   * array of 10,000 bad items gives 10,000 ajv errors).
   * @default 20
   */
  readonly maxReasons?: number;
}

const DEFAULTS = Object.freeze({ maxReasons: 20 });

/**
 * Checks an event's `data` against the schema the registry picks for it
 * (dataschema ref > type binding > most specific topic binding; see
 * SchemaRegistry.validatorFor).
 *
 * Cost: with no schema bound, one registry lookup (a Map get and a cached
 * trie match) and no allocation. With one, the data bytes are parsed as
 * JSON once and run through the compiled validator.
 *
 * @example
 * const validator = new IngressValidator(registry);
 * const reasons = validator.check(event); // null, or [{ path: '/after/id', message: "must have required property 'id'" }]
 */
export class IngressValidator implements EventValidator {
  readonly #registry: SchemaRegistry;
  readonly #maxReasons: number;

  constructor(registry: SchemaRegistry, options: IngressValidatorOptions = {}) {
    const maxReasons = options.maxReasons ?? DEFAULTS.maxReasons;
    if (!Number.isInteger(maxReasons) || maxReasons < 1) throw new RangeError(`maxReasons: expected a whole number >= 1, got ${String(maxReasons)}`);
    this.#registry = registry;
    this.#maxReasons = maxReasons;
  }

  check(event: MeshEvent): readonly SchemaReason[] | null {
    const dataschema = event.attrs.dataschema;
    const validate = this.#registry.validatorFor(event.topic, event.type, typeof dataschema === 'string' ? dataschema : undefined);
    if (validate === null) return null;
    const contentType = event.attrs.datacontenttype;
    // CloudEvents reads an absent datacontenttype as application/json.
    if (typeof contentType === 'string' && !isJsonMediaType(contentType)) {
      return [
        {
          path: '',
          message: `data is ${contentType}, but a JSON Schema is bound to this event; fix: send JSON data (datacontenttype application/json, */*+json or none)`,
        },
      ];
    }
    let value: unknown = null; // absent data validates as JSON null
    const data = event.data;
    if (data !== undefined) {
      try {
        // A view, not a copy: the bytes are the event's and outlive this call.
        value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
      } catch (err) {
        return [{ path: '', message: `data is not valid JSON (${(err as Error).message})` }];
      }
    }
    if (validate(value)) return null;
    // ajv leaves the errors on the shared function: read them before anything else validates.
    return reasonsOf(validate.errors ?? [], this.#maxReasons);
  }
}

/** ajv errors -> reasons: paths point at the offending property, duplicates dropped, at most `max`. */
function reasonsOf(errors: readonly ErrorObject[], max: number): SchemaReason[] {
  const out: SchemaReason[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const path = pathOf(e);
    const message = e.message ?? `fails ${e.keyword}`;
    const key = `${path}\n${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
    if (out.length === max) break;
  }
  if (out.length === 0) out.push({ path: '', message: 'does not match the schema' });
  return out;
}

/**
 * ajv reports a missing or extra property at the object holding it
 * (instancePath "/after" for a missing "id"); a producer wants the
 * property itself ("/after/id"), so those keywords get its name appended.
 */
function pathOf(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  let property: unknown;
  switch (e.keyword) {
    case 'required':
    case 'dependentRequired':
    case 'dependencies':
      property = params.missingProperty;
      break;
    case 'additionalProperties':
      property = params.additionalProperty;
      break;
    case 'unevaluatedProperties':
      property = params.unevaluatedProperty;
      break;
  }
  return typeof property === 'string' ? `${e.instancePath}/${property.replace(/~/g, '~0').replace(/\//g, '~1')}` : e.instancePath;
}
