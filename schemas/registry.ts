import { randomUUID } from 'node:crypto';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { TopicTrie } from '../routing/mod.js';
import { canonicalJson } from './canonical-json.js';
import { COMPATIBILITY_MODES, type CompatibilityMode, checkCompatibility, DEFAULT_COMPATIBILITY, isCompatibilityMode } from './compatibility.js';
import { type DataschemaRef, parseDataschemaRef } from './dataschema-ref.js';
import { type AnyAjv, type Draft, draftOf, newAjv } from './json-schema-draft.js';
import { type MergeResult, planMerge } from './registry-merge.js';
import { checkStateShape, nameOf, type RegistryState, readEntry, type SubjectEntry, stateOf } from './registry-state.js';
import { SchemaError } from './schema-error.js';
import { schemaIdOf } from './schema-id.js';
import { checkSubjectName, checkTopics, checkTypes } from './subject-fields.js';
import type { SubjectStamp } from './subject-stamp.js';
import { compareSpecificity } from './topic-specificity.js';

/** One registered version of a subject. */
export interface RegisteredSchema {
  readonly subject: string;
  readonly version: number;
  /** Global id, from the schema's content (schema-id.ts): the same schema text (keys in any order) has one id in every subject and on every node. */
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
  | { readonly kind: 'import' }
  /** Subjects replaced by newer ones from another registry (`merge()`). */
  | { readonly kind: 'merge'; readonly subjects: readonly string[] };

export interface SchemaRegistryOptions {
  /** Mode of subjects that have none set. @default 'BACKWARD' */
  readonly defaultCompatibility?: CompatibilityMode;
  /**
   * Who stamps this registry's local changes: the node id. Registries that
   * merge each other's states need distinct ids. @default a random UUID
   */
  readonly nodeId?: string;
}

interface Subject {
  readonly name: string;
  compatibility: CompatibilityMode | undefined;
  topics: string[];
  types: string[];
  versions: RegisteredSchema[];
  stamp: SubjectStamp;
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
 * ids derived from the schema text (schema-id.ts), a compatibility mode
 * per subject (BACKWARD by default, checked by a sound prover: see
 * subset-prover.ts), and bindings of subjects to topic filters and
 * CloudEvents types. Every schema is compiled once with ajv (draft
 * 2020-12, or draft-07 when `$schema` says so).
 *
 * Mesh-wide: every node has its own registry, and their states are merged
 * (`export()` on one, `merge()` on another; the rule is in
 * registry-merge.ts) so that they agree whatever the order, grouping or
 * repetition of merges (a state-based CRDT: merge is commutative,
 * associative and idempotent):
 *
 *   - each subject carries the stamp of its last change (subject-stamp.ts);
 *     a local change stamps it above everything this registry has seen;
 *   - per subject, the higher stamp wins the whole subject: versions,
 *     bindings and mode (equal stamps: the larger content, so even a node
 *     that restarted and reused a counter cannot leave two nodes apart);
 *   - a topic filter or type that two subjects claim (bound concurrently
 *     on two nodes) belongs to the subject whose name sorts first.
 *
 * So two nodes registering different versions of one subject at the same
 * moment resolve last-writer-wins: one of the two versions is dropped
 * everywhere. Compatibility is checked by the registry that accepts a
 * registration, against what it has at that moment; merged states are not
 * re-checked.
 *
 * State lives in memory; `onChange` reports every change as it happens.
 *
 * @example
 * const registry = new SchemaRegistry({ nodeId: 'eu-1' });
 * registry.register('orders', { type: 'object', required: ['id'] }, { topics: ['orders.>'] });
 * const validate = registry.validatorFor('orders.eu', 'order.created');
 * if (validate && !validate(data)) console.log(validate.errors);
 * other.merge(registry.export()); // other now validates orders.> alike
 */
export class SchemaRegistry {
  readonly #defaultCompatibility: CompatibilityMode;
  readonly #nodeId: string;
  readonly #ajv = new Map<Draft, AnyAjv>();
  readonly #subjects = new Map<string, Subject>();
  // Indexes derived from #subjects by #reindex():
  #ids = new Map<number, Compiled>();
  #byCanonical = new Map<string, Compiled>();
  #types = new Map<string, string>();
  #topics = new TopicTrie<TopicBinding>();
  /** filter -> its binding (the value stored in #topics). */
  #topicBindings = new Map<string, TopicBinding>();
  /** Lamport clock: above every stamp this registry made or merged. */
  #clock = 0;
  readonly #listeners = new Set<(change: RegistryChange) => void>();

  constructor(options: SchemaRegistryOptions = {}) {
    const mode = options.defaultCompatibility ?? DEFAULT_COMPATIBILITY;
    if (!isCompatibilityMode(mode))
      throw new SchemaError('MG_ERR_SCHEMA_INVALID', `defaultCompatibility: expected one of ${COMPATIBILITY_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
    this.#defaultCompatibility = mode;
    const nodeId = options.nodeId ?? randomUUID();
    if (typeof nodeId !== 'string' || nodeId === '')
      throw new SchemaError('MG_ERR_SCHEMA_INVALID', `nodeId: expected a non-empty string, got ${JSON.stringify(nodeId)}`);
    this.#nodeId = nodeId;
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
    return {
      subject: s.name,
      compatibility: s.compatibility ?? this.#defaultCompatibility,
      topics: [...s.topics],
      types: [...s.types],
      versions: s.versions.map((v) => v.version),
    };
  }

  /** One version of a subject ('latest': the highest); undefined when unknown. */
  get(subject: string, version: number | 'latest'): RegisteredSchema | undefined {
    const versions = this.#subjects.get(subject)?.versions;
    if (versions === undefined || versions.length === 0) return undefined;
    return version === 'latest' ? versions[versions.length - 1] : versions.find((v) => v.version === version);
  }

  /** The schema with global id `id`, and every (subject, version) registered with it. */
  byId(
    id: number,
  ):
    | { readonly id: number; readonly schema: unknown; readonly validate: ValidateFunction; readonly versions: Array<{ subject: string; version: number }> }
    | undefined {
    const c = this.#ids.get(id);
    if (c === undefined) return undefined;
    const versions: Array<{ subject: string; version: number }> = [];
    for (const name of this.subjects())
      for (const v of this.#subjects.get(name)!.versions) if (v.id === id) versions.push({ subject: name, version: v.version });
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
   * a bad subject name, filter or mode, or a schema whose content id is
   * already another schema's), MG_ERR_SCHEMA_INCOMPATIBLE (`reasons` says
   * which property and which change), MG_ERR_SCHEMA_BINDING_CONFLICT (a
   * topic filter or type already bound to another subject). Nothing
   * changes when it throws.
   */
  register(subject: string, schema: unknown, options: RegisterOptions = {}): RegisterResult {
    checkSubjectName(subject);
    const topics = options.topics === undefined ? undefined : checkTopics(options.topics);
    const types = options.types === undefined ? undefined : checkTypes(options.types);
    if (options.compatibility !== undefined && !isCompatibilityMode(options.compatibility)) {
      throw new SchemaError(
        'MG_ERR_SCHEMA_INVALID',
        `compatibility: expected one of ${COMPATIBILITY_MODES.join(', ')}, got ${JSON.stringify(options.compatibility)}`,
      );
    }
    const compiled = this.#compile(schema);
    const existing = this.#subjects.get(subject);
    const same = existing?.versions.find((v) => v.id === compiled.id);
    if (same === undefined) {
      const mode = options.compatibility ?? existing?.compatibility ?? this.#defaultCompatibility;
      const messages = checkCompatibility(mode, existing?.versions ?? [], compiled.schema);
      if (messages.length > 0) {
        throw new SchemaError(
          'MG_ERR_SCHEMA_INCOMPATIBLE',
          `subject '${subject}': the schema is not ${mode} compatible (${messages.length} reason${messages.length > 1 ? 's' : ''})`,
          messages,
        );
      }
    }
    this.#checkBindings(subject, topics, types);

    // Commit: nothing below throws.
    const s = existing ?? { name: subject, compatibility: undefined, topics: [], types: [], versions: [], stamp: [0, ''] };
    let changed = rebind(s, topics, types);
    if (options.compatibility !== undefined && options.compatibility !== s.compatibility) {
      s.compatibility = options.compatibility;
      changed = true;
    }
    if (same !== undefined) {
      if (changed) this.#committed(s, { kind: 'subject', subject });
      return { id: same.id, version: same.version, created: false };
    }
    this.#ids.set(compiled.id, compiled);
    const version = (s.versions[s.versions.length - 1]?.version ?? 0) + 1;
    s.versions.push(Object.freeze({ subject, version, id: compiled.id, schema: compiled.schema, validate: compiled.validate }));
    this.#committed(s, { kind: 'version', subject, version, id: compiled.id });
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
    if (!isCompatibilityMode(mode))
      throw new SchemaError('MG_ERR_SCHEMA_INVALID', `compatibility: expected one of ${COMPATIBILITY_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
    const s = this.#subjects.get(subject) ?? { name: subject, compatibility: undefined, topics: [], types: [], versions: [], stamp: [0, ''] };
    if (s.compatibility === mode) return;
    s.compatibility = mode;
    this.#committed(s, { kind: 'subject', subject });
  }

  /** Replaces a subject's bindings (either list omitted: kept). Throws MG_ERR_SCHEMA_NOT_FOUND, _INVALID or _BINDING_CONFLICT. */
  bind(subject: string, bindings: { topics?: readonly string[]; types?: readonly string[] }): void {
    const s = this.#subjects.get(subject);
    if (s === undefined) throw new SchemaError('MG_ERR_SCHEMA_NOT_FOUND', `no subject '${subject}'`);
    const topics = bindings.topics === undefined ? undefined : checkTopics(bindings.topics);
    const types = bindings.types === undefined ? undefined : checkTypes(bindings.types);
    this.#checkBindings(subject, topics, types);
    if (rebind(s, topics, types)) this.#committed(s, { kind: 'subject', subject });
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
  /**
   * The registry as plain JSON, subjects sorted by name: all of them, or
   * only those named in `subjects` (unknown names are left out). Schemas
   * are shared, not copied: do not mutate.
   */
  export(subjects?: Iterable<string>): RegistryState {
    const names = subjects === undefined ? this.subjects() : [...new Set(subjects)].filter((n) => this.#subjects.has(n)).sort();
    return { format: 2, defaultCompatibility: this.#defaultCompatibility, subjects: names.map((n) => stateOf(this.#subjects.get(n)!)) };
  }

  /**
   * Merges `state` (another registry's `export()`, whole or in part) into
   * this one: per subject, the newer stamp wins the whole subject (see the
   * class comment). Each remote subject that wins is checked and compiled
   * on its own: its schemas must compile and each version's id must be its
   * schema's content id, not another schema's (schema-id.ts); one that
   * fails is skipped, with the reason in `skipped`, and the rest merged.
   * Compatibility is not re-checked. Advances the clock past every stamp
   * in `state`, so the next local change sorts after them.
   *
   * Throws SchemaError MG_ERR_SCHEMA_INVALID, changing nothing, only when
   * `state` is not a registry state at all.
   */
  merge(state: RegistryState): MergeResult {
    const plan = planMerge(checkStateShape(state, 'merge'), this.#subjects);
    this.#clock = Math.max(this.#clock, plan.maxCounter);
    const skipped = plan.skipped;
    const staged = new Map<number, Compiled>();
    const winners: Subject[] = [];
    for (const entry of plan.winners) {
      try {
        winners.push(this.#compileEntry(entry, [this.#ids, staged], staged));
      } catch (err) {
        skipped.push({ subject: entry.name, reason: (err as Error).message });
      }
    }
    if (winners.length === 0) return { changed: [], skipped };
    for (const [id, c] of staged) this.#ids.set(id, c);
    for (const s of winners) this.#subjects.set(s.name, s);
    this.#reindex();
    const changed = winners.map((s) => s.name).sort();
    this.#emit({ kind: 'merge', subjects: changed });
    return { changed, skipped };
  }

  /**
   * Replaces the whole registry with `state` (from `export()`), compiling
   * each distinct schema once; compatibility is not re-checked (the
   * exporting registry did). All or nothing: throws SchemaError
   * MG_ERR_SCHEMA_INVALID and keeps the current state when `state` is
   * malformed, a schema does not compile, or an id is not its schema's
   * content id. `defaultCompatibility` is the importing registry's own and
   * is not taken from `state`.
   */
  import(state: RegistryState): void {
    const entries = checkStateShape(state, 'import');
    const staged = new Map<number, Compiled>();
    const subjects: Subject[] = [];
    const names = new Set<string>();
    for (const raw of entries) {
      try {
        const entry = readEntry(raw);
        if (names.has(entry.name)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'listed twice');
        names.add(entry.name);
        subjects.push(this.#compileEntry(entry, [staged], staged));
      } catch (err) {
        const e = err as Error;
        throw new SchemaError(
          err instanceof SchemaError ? err.code : 'MG_ERR_SCHEMA_INVALID',
          `import: subject ${JSON.stringify(nameOf(raw))}: ${e.message}`,
          err instanceof SchemaError ? err.reasons : [],
          { cause: err },
        );
      }
    }
    this.#subjects.clear();
    for (const s of subjects) {
      this.#subjects.set(s.name, s);
      this.#clock = Math.max(this.#clock, s.stamp[0]);
    }
    this.#ids = staged;
    this.#reindex();
    this.#emit({ kind: 'import' });
  }

  // ------------------------------------------------------------ internals
  /** A local change to `s` is made: stamp it above everything seen, index it, tell listeners. */
  #committed(s: Subject, change: RegistryChange): void {
    s.stamp = [++this.#clock, this.#nodeId];
    this.#subjects.set(s.name, s);
    this.#reindex();
    this.#emit(change);
  }

  /**
   * Rebuilds the lookup indexes from #subjects. Subjects are walked in name
   * order so that a filter or type two subjects claim goes to the same one
   * on every node. Schemas no subject uses any more (a version that lost to
   * a newer subject) are dropped, so `byId` answers alike everywhere.
   */
  #reindex(): void {
    const ids = new Map<number, Compiled>();
    const byCanonical = new Map<string, Compiled>();
    const types = new Map<string, string>();
    const topics = new TopicTrie<TopicBinding>();
    const topicBindings = new Map<string, TopicBinding>();
    for (const name of this.subjects()) {
      const s = this.#subjects.get(name)!;
      for (const v of s.versions) {
        const c = this.#ids.get(v.id)!;
        ids.set(v.id, c);
        byCanonical.set(c.canonical, c);
      }
      for (const t of s.types) if (!types.has(t)) types.set(t, name);
      for (const f of s.topics) {
        if (topicBindings.has(f)) continue;
        const b = { filter: f, subject: name };
        topics.add(f, b);
        topicBindings.set(f, b);
      }
    }
    this.#ids = ids;
    this.#byCanonical = byCanonical;
    this.#types = types;
    this.#topics = topics;
    this.#topicBindings = topicBindings;
  }

  /** The compiled schema for `schema`, refusing one whose content id another registered schema has. */
  #compile(schema: unknown): Compiled {
    const compiled = this.#compileOnly(schema);
    const other = this.#ids.get(compiled.id);
    if (other !== undefined && other.canonical !== compiled.canonical) throw collision(compiled.id);
    return compiled;
  }

  /** The registered compilation of `schema`'s text, or a new one (not stored). */
  #compileOnly(schema: unknown): Compiled {
    const canonical = canonicalJson(schema);
    const known = this.#byCanonical.get(canonical);
    if (known !== undefined) return known;
    if (typeof schema !== 'boolean' && (schema === null || typeof schema !== 'object' || Array.isArray(schema))) {
      throw new SchemaError(
        'MG_ERR_SCHEMA_INVALID',
        `a schema must be a JSON object (or a boolean), got ${schema === null ? 'null' : Array.isArray(schema) ? 'an array' : typeof schema}`,
      );
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
      throw new SchemaError('MG_ERR_SCHEMA_INVALID', `not a valid JSON Schema (draft ${draft}): ${(err as Error).message}`, [(err as Error).message], {
        cause: err,
      });
    }
    return { id: schemaIdOf(canonical), schema: deepFreeze(own), canonical, validate };
  }

  /**
   * A state entry as a Subject: each schema compiled (or reused), its id
   * checked against its content and against the schemas in `known`; new
   * compilations are added to `into`. Throws SchemaError.
   */
  #compileEntry(entry: SubjectEntry, known: ReadonlyArray<ReadonlyMap<number, Compiled>>, into: Map<number, Compiled>): Subject {
    const versions: RegisteredSchema[] = [];
    const fresh = new Map<number, Compiled>();
    for (const v of entry.versions) {
      const c = this.#compileOnly(v.schema);
      if (c.id !== v.id) throw new SchemaError('MG_ERR_SCHEMA_INVALID', `version ${v.version}: id ${v.id} is not its schema's content id (${c.id})`);
      for (const map of [...known, fresh]) {
        const other = map.get(c.id);
        if (other !== undefined && other.canonical !== c.canonical) throw collision(c.id);
      }
      fresh.set(c.id, c);
      versions.push(Object.freeze({ subject: entry.name, version: v.version, id: c.id, schema: c.schema, validate: c.validate }));
    }
    for (const [id, c] of fresh) into.set(id, c);
    return { name: entry.name, compatibility: entry.compatibility, topics: entry.topics, types: entry.types, versions, stamp: entry.stamp };
  }

  #resolve(ref: DataschemaRef): { validate: ValidateFunction } | undefined {
    return ref.kind === 'id' ? this.#ids.get(ref.id) : this.get(ref.subject, ref.version);
  }

  #checkBindings(subject: string, topics: string[] | undefined, types: string[] | undefined): void {
    for (const t of types ?? []) {
      const other = this.#types.get(t);
      if (other !== undefined && other !== subject)
        throw new SchemaError('MG_ERR_SCHEMA_BINDING_CONFLICT', `type '${t}' is already bound to subject '${other}'; fix: unbind it there first`);
    }
    for (const f of topics ?? []) {
      const other = this.#topicBindings.get(f)?.subject;
      if (other !== undefined && other !== subject)
        throw new SchemaError('MG_ERR_SCHEMA_BINDING_CONFLICT', `topic filter '${f}' is already bound to subject '${other}'; fix: unbind it there first`);
    }
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

function collision(id: number): SchemaError {
  return new SchemaError(
    'MG_ERR_SCHEMA_INVALID',
    `schema id ${id} (from the SHA-256 of the schema's canonical JSON) already belongs to a different schema; fix: change the schema's text (e.g. its description) so it gets another id`,
  );
}

/** Replaces a subject's topic and type bindings where given and different; true when anything changed. */
function rebind(s: { topics: string[]; types: string[] }, topics: string[] | undefined, types: string[] | undefined): boolean {
  let changed = false;
  if (topics !== undefined && !sameList(topics, s.topics)) {
    s.topics = topics;
    changed = true;
  }
  if (types !== undefined && !sameList(types, s.types)) {
    s.types = types;
    changed = true;
  }
  return changed;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A validator that refuses everything, for a `dataschema` naming a schema the registry does not have. */
function refusing(dataschema: string): ValidateFunction {
  const errors: ErrorObject[] = [
    { instancePath: '', schemaPath: '', keyword: 'dataschema', params: { dataschema }, message: `names no registered schema (${dataschema})` },
  ];
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
