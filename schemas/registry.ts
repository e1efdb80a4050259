import type { ErrorObject, ValidateFunction } from 'ajv';
import { checkFilter, TopicTrie } from '../routing/mod.js';
import { canonicalJson } from './canonical-json.js';
import { checkCompatibility, DEFAULT_COMPATIBILITY, isCompatibilityMode, COMPATIBILITY_MODES, type CompatibilityMode } from './compatibility.js';
import { parseDataschemaRef, SUBJECT_NAME, type DataschemaRef } from './dataschema-ref.js';
import { draftOf, newAjv, type AnyAjv, type Draft } from './json-schema-draft.js';
import { SchemaError } from './schema-error.js';
import { compareSpecificity } from './topic-specificity.js';

/** One registered version of a subject. */
export interface RegisteredSchema {
  readonly subject: string;
  readonly version: number;
  /** Global id: the same schema text (keys in any order) has one id across subjects. */
  readonly id: number;
  readonly schema: unknown;
  /** Compiled once, at registration (or import). */
  readonly validate: ValidateFunction;
}

/** A subject's settings and versions, as the API lists them. */
export interface SubjectInfo {
  readonly subject: string;
  readonly compatibility: CompatibilityMode;
  /** Topic filters bound to the subject. */
  readonly topics: readonly string[];
  /** CloudEvents `type` values bound to the subject. */
  readonly types: readonly string[];
  readonly versions: readonly number[];
}

export interface RegisterOptions {
  /** Replace the subject's topic filter bindings (omitted: kept). */
  readonly topics?: readonly string[];
  /** Replace the subject's CloudEvents type bindings (omitted: kept). */
  readonly types?: readonly string[];
  /** Set the subject's mode before the check (omitted: kept; a new subject gets the registry default). */
  readonly compatibility?: CompatibilityMode;
}

export interface RegisterResult {
  readonly id: number;
  readonly version: number;
  /** False when the subject already had this schema (the existing version is returned; bindings and mode still apply). */
  readonly created: boolean;
}

export interface CompatibilityResult {
  readonly compatible: boolean;
  /** One line per problem (empty when compatible). */
  readonly messages: readonly string[];
}

/** What changed, for listeners (replication, caches, metrics). */
export type RegistryChange =
  | { readonly kind: 'version'; readonly subject: string; readonly version: number; readonly id: number }
  | { readonly kind: 'subject'; readonly subject: string }
  | { readonly kind: 'import' };

/**
 * The whole registry as plain JSON, for `import()` on another node (mesh
 * replication, a late joiner catching up) or persistence.
 */
export interface RegistryState {
  readonly format: 1;
  readonly defaultCompatibility: CompatibilityMode;
  readonly nextId: number;
  readonly subjects: ReadonlyArray<{
    readonly subject: string;
    /** Absent: the registry default. */
    readonly compatibility?: CompatibilityMode;
    readonly topics: readonly string[];
    readonly types: readonly string[];
    readonly versions: ReadonlyArray<{ readonly version: number; readonly id: number; readonly schema: unknown }>;
  }>;
}

export interface SchemaRegistryOptions {
  /** Mode of subjects that have none set. @default 'BACKWARD' */
  readonly defaultCompatibility?: CompatibilityMode;
}

interface Subject {
  readonly name: string;
  compatibility: CompatibilityMode | undefined;
  topics: string[];
  types: string[];
  readonly versions: RegisteredSchema[];
}

interface Compiled {
  readonly id: number;
  readonly schema: unknown;
  readonly canonical: string;
  readonly validate: ValidateFunction;
}

interface TopicBinding {
  readonly filter: string;
  readonly subject: string;
}

/**
 * A registry of JSON Schemas: subjects with versions 1, 2, ..., global
 * ids, a compatibility mode per subject (BACKWARD by default, checked by
 * a sound prover: see subset-prover.ts), and bindings of subjects to
 * topic filters and CloudEvents types. Every schema is compiled once with
 * ajv (draft 2020-12, or draft-07 when `$schema` says so).
 *
 * State lives in memory; `export()`/`import()` move all of it, and
 * `onChange` reports every change as it happens.
 *
 * @example
 * const registry = new SchemaRegistry();
 * registry.register('orders', { type: 'object', required: ['id'] }, { topics: ['orders.>'] });
 * const validate = registry.validatorFor('orders.eu', 'order.created');
 * if (validate && !validate(data)) console.log(validate.errors);
 */
export class SchemaRegistry {
  readonly #defaultCompatibility: CompatibilityMode;
  readonly #ajv = new Map<Draft, AnyAjv>();
  #subjects = new Map<string, Subject>();
  #ids = new Map<number, Compiled>();
  #byCanonical = new Map<string, Compiled>();
  #types = new Map<string, string>();
  #topics = new TopicTrie<TopicBinding>();
  /** filter -> its binding (the value stored in #topics). */
  #topicBindings = new Map<string, TopicBinding>();
  #nextId = 1;
  readonly #listeners = new Set<(change: RegistryChange) => void>();

  constructor(options: SchemaRegistryOptions = {}) {
    const mode = options.defaultCompatibility ?? DEFAULT_COMPATIBILITY;
    if (!isCompatibilityMode(mode)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', `defaultCompatibility: expected one of ${COMPATIBILITY_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
    this.#defaultCompatibility = mode;
  }

  // ------------------------------------------------------------ reading
  /** Mode of subjects that have none set. */
  get defaultCompatibility(): CompatibilityMode {
    return this.#defaultCompatibility;
  }

  /** Subject names, sorted. */
  subjects(): string[] {
    return [...this.#subjects.keys()].sort();
  }

  /** A subject's settings and version numbers; undefined when unknown. */
  subject(name: string): SubjectInfo | undefined {
    const s = this.#subjects.get(name);
    if (s === undefined) return undefined;
    return { subject: s.name, compatibility: s.compatibility ?? this.#defaultCompatibility, topics: [...s.topics], types: [...s.types], versions: s.versions.map((v) => v.version) };
  }

  /** One version of a subject ('latest': the highest); undefined when unknown. */
  get(subject: string, version: number | 'latest'): RegisteredSchema | undefined {
    const versions = this.#subjects.get(subject)?.versions;
    if (versions === undefined || versions.length === 0) return undefined;
    return version === 'latest' ? versions[versions.length - 1] : versions.find((v) => v.version === version);
  }

  /** The schema with global id `id`, and every (subject, version) registered with it. */
  byId(id: number): { readonly id: number; readonly schema: unknown; readonly validate: ValidateFunction; readonly versions: Array<{ subject: string; version: number }> } | undefined {
    const c = this.#ids.get(id);
    if (c === undefined) return undefined;
    const versions: Array<{ subject: string; version: number }> = [];
    for (const s of this.#subjects.values()) for (const v of s.versions) if (v.id === id) versions.push({ subject: s.name, version: v.version });
    return { id, schema: c.schema, validate: c.validate, versions };
  }

  /** A subject's mode (the registry default when none is set). */
  compatibility(subject: string): CompatibilityMode {
    return this.#subjects.get(subject)?.compatibility ?? this.#defaultCompatibility;
  }

  // ------------------------------------------------------------ writing
  /**
   * Registers `schema` as the next version of `subject`, after checking it
   * compiles and is compatible under the subject's mode. A schema the
   * subject already has returns that version (`created: false`).
   *
   * Throws SchemaError: MG_ERR_SCHEMA_INVALID (not a schema ajv compiles,
   * a bad subject name, filter or mode), MG_ERR_SCHEMA_INCOMPATIBLE
   * (`reasons` says which property and which change),
   * MG_ERR_SCHEMA_BINDING_CONFLICT (a topic filter or type already bound
   * to another subject). Nothing changes when it throws.
   */
  register(subject: string, schema: unknown, options: RegisterOptions = {}): RegisterResult {
    checkSubjectName(subject);
    const topics = options.topics === undefined ? undefined : checkTopics(options.topics);
    const types = options.types === undefined ? undefined : checkTypes(options.types);
    if (options.compatibility !== undefined && !isCompatibilityMode(options.compatibility)) {
      throw new SchemaError('MG_ERR_SCHEMA_INVALID', `compatibility: expected one of ${COMPATIBILITY_MODES.join(', ')}, got ${JSON.stringify(options.compatibility)}`);
    }
    const compiled = this.#compile(schema);
    const existing = this.#subjects.get(subject);
    const same = existing?.versions.find((v) => v.id === compiled.id);
    if (same === undefined) {
      const mode = options.compatibility ?? existing?.compatibility ?? this.#defaultCompatibility;
      const messages = checkCompatibility(mode, existing?.versions ?? [], compiled.schema);
      if (messages.length > 0) {
        throw new SchemaError('MG_ERR_SCHEMA_INCOMPATIBLE', `subject '${subject}': the schema is not ${mode} compatible (${messages.length} reason${messages.length > 1 ? 's' : ''})`, messages);
      }
    }
    this.#checkBindings(subject, topics, types);

    // Commit: nothing below throws.
    const s = existing ?? { name: subject, compatibility: undefined, topics: [], types: [], versions: [] };
    if (existing === undefined) this.#subjects.set(subject, s);
    if (options.compatibility !== undefined) s.compatibility = options.compatibility;
    const bindingsChanged = this.#applyBindings(s, topics, types);
    if (!this.#ids.has(compiled.id)) {
      this.#ids.set(compiled.id, compiled);
      this.#byCanonical.set(compiled.canonical, compiled);
      this.#nextId = Math.max(this.#nextId, compiled.id + 1);
    }
    if (same !== undefined) {
      if (bindingsChanged || options.compatibility !== undefined) this.#emit({ kind: 'subject', subject });
      return { id: same.id, version: same.version, created: false };
    }
    const version = (s.versions[s.versions.length - 1]?.version ?? 0) + 1;
    s.versions.push(Object.freeze({ subject, version, id: compiled.id, schema: compiled.schema, validate: compiled.validate }));
    this.#emit({ kind: 'version', subject, version, id: compiled.id });
    return { id: compiled.id, version, created: true };
  }

  /**
   * Whether `schema` could be registered as the next version of `subject`
   * (its current mode, against the latest or every version). A subject
   * with no versions accepts any schema. Throws MG_ERR_SCHEMA_INVALID when
   * the schema does not compile.
   */
  check(subject: string, schema: unknown): CompatibilityResult {
    checkSubjectName(subject);
    const compiled = this.#compileOnly(schema);
    const versions = this.#subjects.get(subject)?.versions ?? [];
    if (versions.some((v) => this.#ids.get(v.id)?.canonical === compiled.canonical)) return { compatible: true, messages: [] };
    const messages = checkCompatibility(this.compatibility(subject), versions, compiled.schema);
    return { compatible: messages.length === 0, messages };
  }

  /** Sets a subject's mode (the subject need not have versions yet). */
  setCompatibility(subject: string, mode: CompatibilityMode): void {
    checkSubjectName(subject);
    if (!isCompatibilityMode(mode)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', `compatibility: expected one of ${COMPATIBILITY_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
    let s = this.#subjects.get(subject);
    if (s === undefined) this.#subjects.set(subject, (s = { name: subject, compatibility: undefined, topics: [], types: [], versions: [] }));
    if (s.compatibility === mode) return;
    s.compatibility = mode;
    this.#emit({ kind: 'subject', subject });
  }

  /** Replaces a subject's bindings (either list omitted: kept). Throws MG_ERR_SCHEMA_NOT_FOUND, _INVALID or _BINDING_CONFLICT. */
  bind(subject: string, bindings: { topics?: readonly string[]; types?: readonly string[] }): void {
    const s = this.#subjects.get(subject);
    if (s === undefined) throw new SchemaError('MG_ERR_SCHEMA_NOT_FOUND', `no subject '${subject}'`);
    const topics = bindings.topics === undefined ? undefined : checkTopics(bindings.topics);
    const types = bindings.types === undefined ? undefined : checkTypes(bindings.types);
    this.#checkBindings(subject, topics, types);
    if (this.#applyBindings(s, topics, types)) this.#emit({ kind: 'subject', subject });
  }

  // ------------------------------------------------------------ events
  /**
   * The validator an event's data must pass, or null when no schema
   * applies. Picks, first match wins:
   *
   *   1. `dataschema` in one of the registry's forms (see dataschema-ref.ts):
   *      that version; if it names nothing registered, a validator that
   *      refuses with keyword 'dataschema' (an event may not claim a schema
   *      the mesh does not have);
   *   2. the latest version of the subject bound to `type`;
   *   3. the latest version of the subject bound to the most specific
   *      filter matching `topic` (see topic-specificity.ts).
   *
   * Validators take the parsed JSON `data`, return a boolean, and leave
   * ajv's errors in `.errors`. Never throws.
   */
  validatorFor(topic: string, type?: string, dataschema?: string): ValidateFunction | null {
    if (dataschema !== undefined && dataschema !== '') {
      const ref = parseDataschemaRef(dataschema);
      if (ref !== null) return this.#resolve(ref)?.validate ?? refusing(dataschema);
    }
    if (type !== undefined) {
      const bound = this.#types.get(type);
      if (bound !== undefined) {
        const latest = this.get(bound, 'latest');
        if (latest !== undefined) return latest.validate;
      }
    }
    const candidates = this.#topics.match(topic);
    let best: TopicBinding | undefined;
    for (const c of candidates) if (best === undefined || compareSpecificity(c.filter, best.filter) < 0) best = c;
    return best === undefined ? null : (this.get(best.subject, 'latest')?.validate ?? null);
  }

  /** Calls `listener` after every change; returns a function that removes it. */
  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  // ------------------------------------------------------------ state
  /** The whole registry as plain JSON (schemas shared, not copied: do not mutate). */
  export(): RegistryState {
    return {
      format: 1,
      defaultCompatibility: this.#defaultCompatibility,
      nextId: this.#nextId,
      subjects: [...this.#subjects.values()].map((s) => ({
        subject: s.name,
        ...(s.compatibility === undefined ? {} : { compatibility: s.compatibility }),
        topics: [...s.topics],
        types: [...s.types],
        versions: s.versions.map((v) => ({ version: v.version, id: v.id, schema: v.schema })),
      })),
    };
  }

  /**
   * Replaces the whole registry with `state` (from `export()`), compiling
   * each distinct schema once; compatibility is not re-checked (the
   * exporting registry did). All or nothing: throws SchemaError
   * MG_ERR_SCHEMA_INVALID and keeps the current state when `state` is
   * malformed or a schema does not compile. `defaultCompatibility` is the
   * importing registry's own and is not taken from `state`.
   */
  import(state: RegistryState): void {
    if (state === null || typeof state !== 'object' || state.format !== 1 || !Array.isArray(state.subjects)) {
      throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'import: expected a registry state with format 1 (from export())');
    }
    const subjects = new Map<string, Subject>();
    const ids = new Map<number, Compiled>();
    const byCanonical = new Map<string, Compiled>();
    const types = new Map<string, string>();
    const topics = new TopicTrie<TopicBinding>();
    const topicBindings = new Map<string, TopicBinding>();
    let nextId = Number.isInteger(state.nextId) ? state.nextId : 1;
    for (const entry of state.subjects) {
      const where = `import: subject ${JSON.stringify(entry?.subject)}`;
      try {
        checkSubjectName(entry.subject);
        if (subjects.has(entry.subject)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'listed twice');
        if (entry.compatibility !== undefined && !isCompatibilityMode(entry.compatibility)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', `compatibility ${JSON.stringify(entry.compatibility)} is not a mode`);
        const s: Subject = { name: entry.subject, compatibility: entry.compatibility, topics: checkTopics(entry.topics ?? []), types: checkTypes(entry.types ?? []), versions: [] };
        let last = 0;
        for (const v of entry.versions) {
          if (!Number.isInteger(v.version) || v.version <= last || !Number.isInteger(v.id) || v.id < 1) throw new SchemaError('MG_ERR_SCHEMA_INVALID', `version ${JSON.stringify(v.version)} / id ${JSON.stringify(v.id)}: versions must increase and ids be whole numbers >= 1`);
          last = v.version;
          let c = ids.get(v.id);
          if (c === undefined) {
            c = this.#compileOnly(v.schema, v.id);
            ids.set(v.id, c);
            byCanonical.set(c.canonical, c);
          } else if (c.canonical !== canonicalJson(v.schema)) {
            throw new SchemaError('MG_ERR_SCHEMA_INVALID', `id ${v.id} is used for two different schemas`);
          }
          nextId = Math.max(nextId, v.id + 1);
          s.versions.push(Object.freeze({ subject: s.name, version: v.version, id: v.id, schema: c.schema, validate: c.validate }));
        }
        for (const t of s.types) {
          if (types.has(t)) throw new SchemaError('MG_ERR_SCHEMA_BINDING_CONFLICT', `type '${t}' is also bound to subject '${types.get(t)}'`);
          types.set(t, s.name);
        }
        for (const f of s.topics) {
          if (topicBindings.has(f)) throw new SchemaError('MG_ERR_SCHEMA_BINDING_CONFLICT', `topic filter '${f}' is also bound to subject '${topicBindings.get(f)!.subject}'`);
          const b = { filter: f, subject: s.name };
          topics.add(f, b);
          topicBindings.set(f, b);
        }
        subjects.set(s.name, s);
      } catch (err) {
        const e = err as Error;
        throw new SchemaError(err instanceof SchemaError ? err.code : 'MG_ERR_SCHEMA_INVALID', `${where}: ${e.message}`, err instanceof SchemaError ? err.reasons : [], { cause: err });
      }
    }
    this.#subjects = subjects;
    this.#ids = ids;
    this.#byCanonical = byCanonical;
    this.#types = types;
    this.#topics = topics;
    this.#topicBindings = topicBindings;
    this.#nextId = nextId;
    this.#emit({ kind: 'import' });
  }

  // ------------------------------------------------------------ internals
  /** The compiled schema for `schema`: the registered one with the same text, or a new compilation with the next id (not yet stored). */
  #compile(schema: unknown): Compiled {
    return this.#byCanonical.get(canonicalJson(schema)) ?? this.#compileOnly(schema, this.#nextId);
  }

  #compileOnly(schema: unknown, id = 0): Compiled {
    const canonical = canonicalJson(schema);
    const known = this.#byCanonical.get(canonical);
    if (known !== undefined && (id === 0 || id === known.id)) return known;
    if (typeof schema !== 'boolean' && (schema === null || typeof schema !== 'object' || Array.isArray(schema))) {
      throw new SchemaError('MG_ERR_SCHEMA_INVALID', `a schema must be a JSON object (or a boolean), got ${schema === null ? 'null' : Array.isArray(schema) ? 'an array' : typeof schema}`);
    }
    const draft = draftOf(schema);
    let ajv = this.#ajv.get(draft);
    if (ajv === undefined) this.#ajv.set(draft, (ajv = newAjv(draft)));
    // A private copy in the caller's key order: the caller may mutate its object after registering.
    const own = JSON.parse(JSON.stringify(schema)) as unknown;
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(own as object);
    } catch (err) {
      throw new SchemaError('MG_ERR_SCHEMA_INVALID', `not a valid JSON Schema (draft ${draft}): ${(err as Error).message}`, [(err as Error).message], { cause: err });
    }
    return { id, schema: deepFreeze(own), canonical, validate };
  }

  #resolve(ref: DataschemaRef): { validate: ValidateFunction } | undefined {
    return ref.kind === 'id' ? this.#ids.get(ref.id) : this.get(ref.subject, ref.version);
  }

  #checkBindings(subject: string, topics: string[] | undefined, types: string[] | undefined): void {
    for (const t of types ?? []) {
      const other = this.#types.get(t);
      if (other !== undefined && other !== subject) throw new SchemaError('MG_ERR_SCHEMA_BINDING_CONFLICT', `type '${t}' is already bound to subject '${other}'; fix: unbind it there first`);
    }
    for (const f of topics ?? []) {
      const other = this.#topicOwner(f);
      if (other !== undefined && other !== subject) throw new SchemaError('MG_ERR_SCHEMA_BINDING_CONFLICT', `topic filter '${f}' is already bound to subject '${other}'; fix: unbind it there first`);
    }
  }

  #topicOwner(filter: string): string | undefined {
    return this.#topicBindings.get(filter)?.subject;
  }

  /** Replaces bindings given; true when something changed. */
  #applyBindings(s: Subject, topics: string[] | undefined, types: string[] | undefined): boolean {
    let changed = false;
    if (topics !== undefined && canonicalJson(topics) !== canonicalJson(s.topics)) {
      for (const f of s.topics) {
        this.#topics.remove(f, this.#topicBindings.get(f)!);
        this.#topicBindings.delete(f);
      }
      for (const f of topics) {
        const b = { filter: f, subject: s.name };
        this.#topics.add(f, b);
        this.#topicBindings.set(f, b);
      }
      s.topics = topics;
      changed = true;
    }
    if (types !== undefined && canonicalJson(types) !== canonicalJson(s.types)) {
      for (const t of s.types) this.#types.delete(t);
      for (const t of types) this.#types.set(t, s.name);
      s.types = types;
      changed = true;
    }
    return changed;
  }

  #emit(change: RegistryChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch {
        // A listener's failure is its own: the change is made.
      }
    }
  }
}

function checkSubjectName(subject: unknown): asserts subject is string {
  if (typeof subject !== 'string' || !SUBJECT_NAME.test(subject)) {
    throw new SchemaError('MG_ERR_SCHEMA_INVALID', `subject ${JSON.stringify(subject)}: expected 1-128 letters, digits, '.', '_' or '-'`);
  }
}

function checkTopics(topics: unknown): string[] {
  if (!Array.isArray(topics)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'topics: expected an array of topic filters');
  const out = [...new Set(topics as unknown[])].map((f, i) => {
    if (typeof f !== 'string') throw new SchemaError('MG_ERR_SCHEMA_INVALID', `topics[${i}]: expected a topic filter string`);
    const problem = checkFilter(f);
    if (problem !== null) throw new SchemaError('MG_ERR_SCHEMA_INVALID', `topics[${i}]: ${problem.message}`);
    return f;
  });
  return out.sort();
}

function checkTypes(types: unknown): string[] {
  if (!Array.isArray(types)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'types: expected an array of CloudEvents type strings');
  return [...new Set(types as unknown[])]
    .map((t, i) => {
      if (typeof t !== 'string' || t === '') throw new SchemaError('MG_ERR_SCHEMA_INVALID', `types[${i}]: expected a non-empty string`);
      return t;
    })
    .sort();
}

/** A validator that refuses everything, for a `dataschema` naming a schema the registry does not have. */
function refusing(dataschema: string): ValidateFunction {
  const errors: ErrorObject[] = [{ instancePath: '', schemaPath: '', keyword: 'dataschema', params: { dataschema }, message: `names no registered schema (${dataschema})` }];
  const fn = (() => {
    fn.errors = errors;
    return false;
  }) as unknown as ValidateFunction;
  return fn;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
