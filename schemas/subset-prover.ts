import type { ValidateFunction } from 'ajv';
import { canonicalJson, jsonEqual } from './canonical-json.js';
import { type AnyAjv, type Draft, draftOf, newAjv } from './json-schema-draft.js';

/**
 * One reason a subset proof failed. `kind` says whether the checker found
 * a change that breaks compatibility (`incompatible`) or met a construct
 * it cannot reason about (`unproven`); both refuse.
 */
export interface SubsetProblem {
  readonly kind: 'incompatible' | 'unproven';
  /** JSON pointer into the schema, following properties/items from the root (`$ref`s are followed transparently). */
  readonly pointer: string;
  /** e.g. "property 'x' became required at /properties/x" */
  readonly message: string;
}

/**
 * Keywords the prover understands. Anything else in a schema it has to
 * compare answers "cannot prove compatible: <keyword> at <pointer>".
 */
const ASSERTIONS = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  '$ref',
]);

/** Keywords that never change which instances are valid. */
const ANNOTATIONS = new Set([
  '$schema',
  '$comment',
  '$defs',
  'definitions',
  'title',
  'description',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentEncoding',
  'contentMediaType',
]);

/** Keys that make a subtree's meaning depend on something outside it. */
const CONTEXT_KEYS = new Set(['$ref', '$dynamicRef', '$recursiveRef', '$id', '$anchor', '$dynamicAnchor', '$recursiveAnchor']);

const ALL_TYPES = ['null', 'boolean', 'object', 'array', 'number', 'string'] as const;

/** Deepest schema nesting the prover walks; deeper parts are "cannot prove". */
const MAX_DEPTH = 64;
/** Longest chain of `$ref` to `$ref` followed. */
const MAX_REF_CHAIN = 32;
/** Node pairs compared before giving up (bounds the work a hostile schema can cause). */
const MAX_VISITS = 20_000;

interface Doc {
  readonly root: unknown;
  readonly draft: Draft;
  /** Validators of sub-schemas by location, compiled on demand for enum/const membership. */
  readonly validators: Map<string, ValidateFunction | null>;
  /** The ajv instance holding `root` under SUBSET_ID; undefined until first needed, null if the root does not compile. */
  ajv?: AnyAjv | null;
}

const SUBSET_ID = 'urn:meshgate:subset-check';

type Schema = boolean | Record<string, unknown>;

/**
 * Proves that every instance valid under `sub` is valid under `sup`
 * (L(sub) ⊆ L(sup)), soundly: an empty result is a proof, any problem
 * refuses. The proof is structural over the keywords in ASSERTIONS, with
 * three exact shortcuts:
 *
 *   - identical sub-schemas (same draft, no references leaving them) are
 *     subsets of each other whatever they contain;
 *   - a finite `sub` (`enum`/`const`) is checked value by value with ajv
 *     against `sup`, which is exact whatever `sup` contains;
 *   - recursive schemas (`$ref` cycles through properties/items) are
 *     proved coinductively: a pair of locations met again one instance
 *     level deeper is assumed to hold, which is sound because JSON
 *     instances are finite trees (induction on instance depth).
 *
 * `subIsOld` only words the messages: BACKWARD proves old ⊆ new, FORWARD
 * new ⊆ old, and a reason always describes the change from old to new.
 *
 * @example
 * proveSubset({ type: 'string' }, { type: ['string', 'null'] }, true); // []
 */
export function proveSubset(sub: unknown, sup: unknown, subIsOld: boolean): SubsetProblem[] {
  return new SubsetProver(sub, sup, subIsOld).run();
}

class SubsetProver {
  readonly #a: Doc;
  readonly #b: Doc;
  readonly #subIsOld: boolean;
  readonly #problems: SubsetProblem[] = [];
  readonly #seen = new Set<string>();
  /** Location pairs being proved, with the instance depth at which each started. */
  readonly #inProgress = new Map<string, number>();
  #visits = 0;

  constructor(sub: unknown, sup: unknown, subIsOld: boolean) {
    this.#a = { root: sub, draft: draftOf(sub), validators: new Map() };
    this.#b = { root: sup, draft: draftOf(sup), validators: new Map() };
    this.#subIsOld = subIsOld;
  }

  run(): SubsetProblem[] {
    this.#prove(this.#a.root, '', this.#b.root, '', '', 0);
    return this.#problems;
  }

  // ------------------------------------------------------------ reporting
  #fail(kind: SubsetProblem['kind'], pointer: string, message: string): false {
    if (!this.#seen.has(message)) {
      this.#seen.add(message);
      this.#problems.push({ kind, pointer, message });
    }
    return false;
  }

  #unproven(keyword: string, pointer: string, detail = ''): false {
    return this.#fail('unproven', pointer, `cannot prove compatible: ${keyword} at ${show(pointer)}${detail}`);
  }

  /** Words a change seen as sub -> sup in old -> new terms. */
  #change(narrowing: string, widening: string): string {
    return this.#subIsOld ? narrowing : widening;
  }

  // ------------------------------------------------------------ the proof
  /**
   * `la`/`lb`: where the node sits in its document (after `$ref`s), used
   * to compile sub-schema validators and detect cycles; `path`: the
   * pointer reported, as the user reads the schema; `depth`: instance depth.
   */
  #prove(na: unknown, la: string, nb: unknown, lb: string, path: string, depth: number): boolean {
    if (path.split('/').length > MAX_DEPTH) return this.#unproven('nesting', path, ` (deeper than ${MAX_DEPTH} levels)`);
    if (++this.#visits > MAX_VISITS) return this.#unproven('schema', path, ` (more than ${MAX_VISITS} comparisons: too complex to prove)`);
    const ra = this.#deref(this.#a, na, la, path);
    const rb = this.#deref(this.#b, nb, lb, path);
    if (ra === null || rb === null) return false;
    const [a, locA] = ra;
    const [b, locB] = rb;

    if (b === true || a === false) return true;
    if (this.#sameMeaning(a, b)) return true;

    const key = `${locA}\u0000${locB}`;
    const started = this.#inProgress.get(key);
    if (started !== undefined) {
      return started < depth ? true : this.#unproven('$ref', path, ' (a reference cycle that does not descend into the instance)');
    }
    this.#inProgress.set(key, depth);
    try {
      return this.#proveNode(a === true ? {} : a, locA, b === false ? false : b, locB, path, depth);
    } finally {
      this.#inProgress.delete(key);
    }
  }

  /** Follows a node's `$ref` chain within its own document; null after reporting why it cannot. */
  #deref(doc: Doc, node: unknown, loc: string, path: string): [Schema, string] | null {
    for (let i = 0; i <= MAX_REF_CHAIN; i++) {
      if (typeof node === 'boolean') return [node, loc];
      if (node === null || typeof node !== 'object' || Array.isArray(node)) {
        this.#unproven('schema', path, ' (not a schema object)');
        return null;
      }
      const obj = node as Record<string, unknown>;
      if (!('$ref' in obj)) return [obj, loc];
      const siblings = Object.keys(obj).filter((k) => k !== '$ref' && !ANNOTATIONS.has(k));
      if (siblings.length > 0) {
        this.#unproven('$ref', path, ` (with sibling keyword${siblings.length > 1 ? 's' : ''} ${siblings.join(', ')})`);
        return null;
      }
      const ref = obj.$ref;
      if (typeof ref !== 'string' || !(ref === '#' || ref.startsWith('#/'))) {
        this.#unproven('$ref', path, ` (${JSON.stringify(ref)} is not a local JSON pointer)`);
        return null;
      }
      let pointer: string;
      try {
        pointer = decodeURIComponent(ref.slice(1));
      } catch {
        this.#unproven('$ref', path, ` (${ref} is not a valid URI fragment)`);
        return null;
      }
      const target = resolvePointer(doc.root, pointer);
      if (target === undefined) {
        this.#unproven('$ref', path, ` (${ref} does not resolve)`);
        return null;
      }
      node = target;
      loc = pointer;
    }
    this.#unproven('$ref', path, ` (a chain of more than ${MAX_REF_CHAIN} references)`);
    return null;
  }

  /**
   * Identical sub-schemas accept the same instances, provided nothing in
   * them refers outside (a `$ref` into `$defs` counts as inside when both
   * documents' `$defs`/`definitions` are identical too).
   */
  #sameMeaning(a: Schema, b: Schema): boolean {
    if (this.#a.draft !== this.#b.draft || !jsonEqual(a, b)) return false;
    const refs = contextRefs(a);
    if (refs === null) return false;
    if (refs.length === 0) return true;
    const ra = this.#a.root as Record<string, unknown>;
    const rb = this.#b.root as Record<string, unknown>;
    const inDefs = (list: string[] | null) => list?.every((r) => r.startsWith('#/$defs/') || r.startsWith('#/definitions/')) === true;
    // The definitions themselves may only refer to definitions, or their meaning depends on the rest of the root.
    return (
      inDefs(refs) &&
      jsonEqual(ra.$defs, rb.$defs) &&
      jsonEqual(ra.definitions, rb.definitions) &&
      inDefs(contextRefs(ra.$defs ?? null)) &&
      inDefs(contextRefs(ra.definitions ?? null))
    );
  }

  #proveNode(a: Record<string, unknown>, la: string, b: Record<string, unknown> | false, lb: string, path: string, depth: number): boolean {
    // A finite sub-schema: ask ajv about each of its values (exact).
    if ('enum' in a || 'const' in a) return this.#proveFinite(a, la, lb, path);
    if (b === false) return this.#fail('incompatible', path, this.#change(`${show(path)} now refuses every value`, `${show(path)} accepted no value before`));

    let ok = true;
    for (const [doc, node, loc] of [
      [this.#a, a, la],
      [this.#b, b, lb],
    ] as const) {
      for (const k of Object.keys(node)) {
        if (ASSERTIONS.has(k) || ANNOTATIONS.has(k) || (k === '$id' && loc === '')) continue;
        ok = this.#unproven(k, path);
      }
      if (doc.draft === '07' && Array.isArray(node.items)) ok = this.#unproven('items', path, ' (array form)');
    }
    if (!ok) return false;

    if ('enum' in b || 'const' in b) {
      const kw = 'enum' in b ? 'enum' : 'const';
      return this.#fail('incompatible', path, this.#change(`${kw} added at ${show(path)}`, `${kw} removed at ${show(path)}`));
    }

    // Types: every type sub allows must be allowed by sup.
    const ta = typesOf(a);
    const tb = typesOf(b);
    const lost = [...ta].filter((t) => !(tb.has(t) || (t === 'integer' && tb.has('number'))));
    if (lost.length > 0) {
      const [oldT, newT] = this.#subIsOld ? [a.type, b.type] : [b.type, a.type];
      ok = this.#fail('incompatible', path, `type of ${show(path)} ${this.#change('narrowed', 'widened')} from ${showType(oldT)} to ${showType(newT)}`);
    }
    const has = (t: string) => ta.has(t) && (tb.has(t) || (t === 'integer' && tb.has('number')));

    if (has('string')) {
      ok = this.#lower(a, b, 'minLength', path) && ok;
      ok = this.#upper(a, b, 'maxLength', path) && ok;
      ok = this.#sameText(a, b, 'pattern', path) && ok;
    }
    // Formats exist for numbers too (ajv-formats' int32, int64, float, double).
    ok = this.#sameText(a, b, 'format', path) && ok;
    if (has('number') || has('integer')) {
      ok = this.#numberBounds(a, b, path) && ok;
      ok = this.#multipleOf(a, b, path) && ok;
    }
    if (has('array')) {
      ok = this.#lower(a, b, 'minItems', path) && ok;
      ok = this.#upper(a, b, 'maxItems', path) && ok;
      if (b.uniqueItems === true && a.uniqueItems !== true)
        ok = this.#fail('incompatible', path, this.#change(`uniqueItems added at ${show(path)}`, `uniqueItems removed at ${show(path)}`));
      const ia = 'items' in a ? a.items : true;
      const ib = 'items' in b ? b.items : true;
      ok = this.#prove(ia, 'items' in a ? `${la}/items` : la, ib, 'items' in b ? `${lb}/items` : lb, `${path}/items`, depth + 1) && ok;
    }
    if (has('object')) ok = this.#proveObject(a, la, b, lb, path, depth) && ok;
    return ok;
  }

  #proveObject(a: Record<string, unknown>, la: string, b: Record<string, unknown>, lb: string, path: string, depth: number): boolean {
    let ok = this.#lower(a, b, 'minProperties', path);
    ok = this.#upper(a, b, 'maxProperties', path) && ok;
    const reqA = new Set(Array.isArray(a.required) ? (a.required as string[]) : []);
    for (const k of Array.isArray(b.required) ? (b.required as string[]) : []) {
      if (!reqA.has(k)) {
        const at = `${path}/properties/${escapePointer(k)}`;
        ok = this.#fail('incompatible', at, this.#change(`property '${k}' became required at ${at}`, `property '${k}' is no longer required at ${at}`));
      }
    }
    const propsA = (a.properties ?? {}) as Record<string, unknown>;
    const propsB = (b.properties ?? {}) as Record<string, unknown>;
    const addA = 'additionalProperties' in a ? a.additionalProperties : true;
    const addB = 'additionalProperties' in b ? b.additionalProperties : true;
    const names = new Set([...Object.keys(propsA), ...Object.keys(propsB)]);
    for (const k of names) {
      const at = `${path}/properties/${escapePointer(k)}`;
      const inA = Object.hasOwn(propsA, k);
      const inB = Object.hasOwn(propsB, k);
      const sa = inA ? propsA[k] : addA;
      const sb = inB ? propsB[k] : addB;
      if (sa === false) continue;
      if (sb === false && !inB) {
        ok = this.#fail(
          'incompatible',
          at,
          this.#change(
            `property '${k}' removed while additionalProperties is false at ${at}`,
            `property '${k}' added while the old schema's additionalProperties is false at ${at}`,
          ),
        );
        continue;
      }
      if (sb === false) {
        ok = this.#fail(
          'incompatible',
          at,
          this.#change(`property '${k}' became forbidden at ${at}`, `property '${k}' was forbidden and is now allowed at ${at}`),
        );
        continue;
      }
      const locA = inA ? `${la}/properties/${escapePointer(k)}` : `${la}/additionalProperties`;
      const locB = inB ? `${lb}/properties/${escapePointer(k)}` : `${lb}/additionalProperties`;
      ok = this.#prove(sa, locA, sb, locB, at, depth + 1) && ok;
    }
    // Names neither schema lists.
    if (addA !== false) {
      if (addB === false) {
        ok = this.#fail('incompatible', path, this.#change(`additionalProperties closed at ${show(path)}`, `additionalProperties opened at ${show(path)}`));
      } else {
        ok = this.#prove(addA, `${la}/additionalProperties`, addB, `${lb}/additionalProperties`, `${path}/additionalProperties`, depth + 1) && ok;
      }
    }
    return ok;
  }

  /** Every value of a finite sub-schema (filtered by the sub-schema itself) must be valid under sup. */
  #proveFinite(a: Record<string, unknown>, la: string, lb: string, path: string): boolean {
    const candidates = 'enum' in a && Array.isArray(a.enum) ? (a.enum as unknown[]) : [a.const];
    const inA = this.#validator(this.#a, la);
    const inB = this.#validator(this.#b, lb);
    if (inB === null) return this.#unproven('schema', path, ' (the sub-schema does not compile on its own)');
    // Compiled on its own, a sub-schema loses its dynamic scope.
    if (hasDynamicRef(this.#b.root)) return this.#unproven('$dynamicRef', path);
    const b = resolvePointer(this.#b.root, lb);
    const bEnum =
      b !== null && typeof b === 'object' && Array.isArray((b as Record<string, unknown>).enum) ? ((b as Record<string, unknown>).enum as unknown[]) : null;
    let ok = true;
    for (const v of candidates) {
      if (inA !== null && !inA(v)) continue;
      if (inB(v)) continue;
      const shown = typeof v === 'string' ? `'${v}'` : canonicalJson(v);
      if (bEnum !== null && !bEnum.some((x) => jsonEqual(x, v))) {
        ok = this.#fail('incompatible', path, `enum value ${shown} ${this.#change('removed', 'added')} at ${show(path)}`);
      } else {
        const why = inB.errors?.[0];
        const detail = why ? ` (${why.instancePath || 'value'} ${why.message ?? 'is invalid'})` : '';
        ok = this.#fail(
          'incompatible',
          path,
          `value ${shown} ${this.#change('allowed by the old schema is refused by the new one', 'allowed by the new schema is refused by the old one')} at ${show(path)}${detail}`,
        );
      }
    }
    return ok;
  }

  /** A validator of the sub-schema at `loc` of `doc`, or null when it does not compile alone. */
  #validator(doc: Doc, loc: string): ValidateFunction | null {
    let v = doc.validators.get(loc);
    if (v !== undefined) return v;
    if (doc.ajv === undefined) {
      try {
        const root = doc.root;
        // The root was validated against its meta-schema when registered; compiling the meta-schema again per proof would cost ~10 ms.
        const ajv = newAjv(doc.draft, { allErrors: false, meta: false, validateSchema: false });
        ajv.addSchema(typeof root === 'object' && root !== null ? { ...(root as Record<string, unknown>), $id: SUBSET_ID } : (root as object), SUBSET_ID);
        doc.ajv = ajv;
      } catch {
        doc.ajv = null;
      }
    }
    try {
      v = doc.ajv == null ? null : doc.ajv.compile({ $ref: `${SUBSET_ID}#${loc.split('/').map(encodeURIComponent).join('/')}` });
    } catch {
      v = null;
    }
    doc.validators.set(loc, v);
    return v;
  }

  // ------------------------------------------------------------ bounds
  /** sub's lower bound on `kw` (absent: 0) must be >= sup's. */
  #lower(a: Record<string, unknown>, b: Record<string, unknown>, kw: string, path: string): boolean {
    const lb = b[kw] as number | undefined;
    if (lb === undefined) return true;
    const la = (a[kw] as number | undefined) ?? 0;
    if (la >= lb) return true;
    return this.#bound(kw, a[kw] as number | undefined, lb, path);
  }

  /** sub's upper bound on `kw` (absent: none) must be <= sup's. */
  #upper(a: Record<string, unknown>, b: Record<string, unknown>, kw: string, path: string): boolean {
    const ub = b[kw] as number | undefined;
    if (ub === undefined) return true;
    const ua = a[kw] as number | undefined;
    if (ua !== undefined && ua <= ub) return true;
    return this.#bound(kw, ua, ub, path);
  }

  /** Reports a sup bound sub does not meet; `subValue` undefined: sub has none. */
  #bound(kw: string, subValue: number | undefined, supValue: number, path: string): false {
    if (subValue === undefined)
      return this.#fail('incompatible', path, this.#change(`${kw} ${supValue} added at ${show(path)}`, `${kw} ${supValue} removed at ${show(path)}`));
    const [oldV, newV] = this.#subIsOld ? [subValue, supValue] : [supValue, subValue];
    return this.#fail('incompatible', path, `${kw} of ${show(path)} ${this.#change('tightened', 'loosened')} from ${oldV} to ${newV}`);
  }

  /** pattern/format: sup's must be absent or equal to sub's; differing texts are not compared. */
  #sameText(a: Record<string, unknown>, b: Record<string, unknown>, kw: string, path: string): boolean {
    const tb = b[kw];
    if (tb === undefined || tb === a[kw]) return true;
    if (a[kw] === undefined)
      return this.#fail(
        'incompatible',
        path,
        this.#change(`${kw} ${JSON.stringify(tb)} added at ${show(path)}`, `${kw} ${JSON.stringify(tb)} removed at ${show(path)}`),
      );
    const [oldV, newV] = this.#subIsOld ? [a[kw], tb] : [tb, a[kw]];
    return this.#unproven(kw, path, ` (${JSON.stringify(oldV)} changed to ${JSON.stringify(newV)}; only equal ${kw}s are compared)`);
  }

  #numberBounds(a: Record<string, unknown>, b: Record<string, unknown>, path: string): boolean {
    let ok = true;
    for (const side of ['min', 'max'] as const) {
      const bb = bound(b, side);
      if (bb === null) continue;
      const ba = bound(a, side);
      const dir = side === 'min' ? 1 : -1;
      const holds = ba !== null && (dir * (ba.value - bb.value) > 0 || (ba.value === bb.value && (!bb.exclusive || ba.exclusive)));
      if (holds) continue;
      const kwOf = (x: { exclusive: boolean }) =>
        side === 'min' ? (x.exclusive ? 'exclusiveMinimum' : 'minimum') : x.exclusive ? 'exclusiveMaximum' : 'maximum';
      if (ba === null) {
        ok = this.#fail(
          'incompatible',
          path,
          this.#change(`${kwOf(bb)} ${bb.value} added at ${show(path)}`, `${kwOf(bb)} ${bb.value} removed at ${show(path)}`),
        );
      } else {
        const [o, n] = this.#subIsOld ? [ba, bb] : [bb, ba];
        ok = this.#fail(
          'incompatible',
          path,
          `${side === 'min' ? 'lower' : 'upper'} bound of ${show(path)} ${this.#change('tightened', 'loosened')} from ${kwOf(o)} ${o.value} to ${kwOf(n)} ${n.value}`,
        );
      }
    }
    return ok;
  }

  #multipleOf(a: Record<string, unknown>, b: Record<string, unknown>, path: string): boolean {
    const mb = b.multipleOf as number | undefined;
    if (mb === undefined) return true;
    const ma = a.multipleOf as number | undefined;
    if (ma !== undefined && Number.isInteger(ma / mb)) return true;
    if (ma === undefined)
      return this.#fail('incompatible', path, this.#change(`multipleOf ${mb} added at ${show(path)}`, `multipleOf ${mb} removed at ${show(path)}`));
    const [o, n] = this.#subIsOld ? [ma, mb] : [mb, ma];
    return this.#fail('incompatible', path, `multipleOf of ${show(path)} changed from ${o} to ${n}`);
  }
}

// ---------------------------------------------------------------- helpers
function show(pointer: string): string {
  return pointer === '' ? '(root)' : pointer;
}

function showType(type: unknown): string {
  if (type === undefined) return 'any';
  if (Array.isArray(type)) return type.length === 1 ? String(type[0]) : `[${type.join(',')}]`;
  return String(type);
}

/** The JSON types a schema admits ('integer' stands for itself, 'number' includes it). */
function typesOf(s: Record<string, unknown>): Set<string> {
  if (s.type === undefined) return new Set(ALL_TYPES);
  return new Set(Array.isArray(s.type) ? (s.type as string[]) : [s.type as string]);
}

function bound(s: Record<string, unknown>, side: 'min' | 'max'): { value: number; exclusive: boolean } | null {
  const inc = s[side === 'min' ? 'minimum' : 'maximum'] as number | undefined;
  const exc = s[side === 'min' ? 'exclusiveMinimum' : 'exclusiveMaximum'] as number | undefined;
  if (typeof exc !== 'number') return typeof inc === 'number' ? { value: inc, exclusive: false } : null;
  if (typeof inc !== 'number') return { value: exc, exclusive: true };
  const tighter = side === 'min' ? exc >= inc : exc <= inc;
  return tighter ? { value: exc, exclusive: true } : { value: inc, exclusive: false };
}

export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function resolvePointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, token)) return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}

function hasDynamicRef(node: unknown): boolean {
  if (node === null || typeof node !== 'object') return false;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === '$dynamicRef' || k === '$recursiveRef' || hasDynamicRef(v)) return true;
  }
  return false;
}

/** The `$ref` values inside a schema, or null when it holds a key whose meaning depends on more than a local pointer. */
function contextRefs(node: unknown, out: string[] = []): string[] | null {
  if (Array.isArray(node)) {
    for (const x of node) if (contextRefs(x, out) === null) return null;
    return out;
  }
  if (node === null || typeof node !== 'object') return out;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (CONTEXT_KEYS.has(k)) {
      if (k !== '$ref' || typeof v !== 'string') return null;
      out.push(v);
    }
    if (contextRefs(v, out) === null) return null;
  }
  return out;
}
