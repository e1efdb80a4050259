import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { COMPATIBILITY_MODES, isCompatibilityMode, isSchemaId, MAX_SCHEMA_ID, SchemaError, type SchemaRegistry } from '../../schemas/mod.js';
import type { ErrorCode } from '../base/mod.js';

/**
 * The schema registry over HTTP, in the shape users know from Confluent
 * Schema Registry (JSON bodies, `application/json` answers):
 *
 *   GET  /v1/schemas/subjects                                   ["orders", ...]
 *   GET  /v1/schemas/subjects/:s                                {subject, compatibility, topics, types, versions}
 *   GET  /v1/schemas/subjects/:s/versions                       [1, 2]
 *   GET  /v1/schemas/subjects/:s/versions/:v|latest             {subject, version, id, schemaType, schema}
 *   GET  /v1/schemas/ids/:id                                    {id, schemaType, schema, versions: [{subject, version}]}
 *   POST /v1/schemas/subjects/:s/versions                       {schema, topics?, types?, compatibility?} -> {id, version}
 *   POST /v1/schemas/compatibility/subjects/:s/versions/latest  {schema} -> {is_compatible, messages}
 *   PUT  /v1/schemas/subjects/:s/bindings                       {topics?, types?} -> the subject
 *   GET  /v1/schemas/config                                     {compatibilityLevel} (the default)
 *   GET  /v1/schemas/config/:s                                  {compatibilityLevel}
 *   PUT  /v1/schemas/config/:s                                  {compatibility} -> {compatibility}
 *
 * `schema` is the JSON Schema itself, or (as Confluent clients send it) a
 * string holding its JSON text; answers carry it as JSON. Errors are
 * `{error: MG_ERR_SCHEMA_*, message, messages}`: 400 body not JSON, 404
 * unknown subject/version/id, 409 incompatible (messages: the reasons) or
 * binding conflict, 413 body over `maxBodyBytes`, 422 invalid schema or field.
 */
/** A refused write: the HTTP status and the node's error code. */
export interface WriteRefusal {
  readonly status: string;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface SchemaApiOptions {
  /** Largest request body accepted, bytes. @default 1_048_576 */
  readonly maxBodyBytes?: number;
  /**
   * Decides, from the request's credentials, whether it may change
   * `subject` (register, bind, set its mode). Called before the body is
   * read. Absent: writes are open (auth off).
   */
  readonly authorizeWrite?: (req: HttpRequest, subject: string) => WriteRefusal | null;
}

export const SCHEMA_API_DEFAULTS = Object.freeze({ maxBodyBytes: 1_048_576 });

// Every registry code is in the node's catalogue (schemas/ spells them out because it cannot import broker/).
const CATALOGUED: SchemaError['code'] extends ErrorCode ? true : never = true;
void CATALOGUED;

const TOO_LARGE: ErrorCode = 'MG_ERR_SCHEMA_TOO_LARGE';
const NOT_JSON: ErrorCode = 'MG_ERR_SCHEMA_REQUEST_INVALID';

const STATUS: Record<SchemaError['code'], string> = {
  MG_ERR_SCHEMA_INVALID: '422 Unprocessable Entity',
  MG_ERR_SCHEMA_INCOMPATIBLE: '409 Conflict',
  MG_ERR_SCHEMA_NOT_FOUND: '404 Not Found',
  MG_ERR_SCHEMA_BINDING_CONFLICT: '409 Conflict',
};

/** Mounts the registry routes on `app` (before any catch-all route). */
export function mountSchemaApi(app: TemplatedApp, registry: SchemaRegistry, options: SchemaApiOptions = {}): void {
  const maxBodyBytes = options.maxBodyBytes ?? SCHEMA_API_DEFAULTS.maxBodyBytes;
  const base = '/v1/schemas';
  /** True when the request may not write `subject`: the refusal has been sent. */
  const refused = (res: HttpResponse, req: HttpRequest, subject: string): boolean => {
    const refusal = options.authorizeWrite?.(req, subject) ?? null;
    if (refusal === null) return false;
    reply(res, refusal.status, { error: refusal.code, message: refusal.message });
    return true;
  };

  app.get(`${base}/subjects`, (res) => reply(res, '200 OK', registry.subjects()));
  app.get(`${base}/subjects/:subject`, (res, req) => {
    const subject = param(req, 0);
    answer(res, () => registry.subject(subject) ?? notFound(`no subject '${subject}'`));
  });
  app.get(`${base}/subjects/:subject/versions`, (res, req) => {
    const subject = param(req, 0);
    answer(res, () => (registry.subject(subject) ?? notFound(`no subject '${subject}'`)).versions);
  });
  app.get(`${base}/subjects/:subject/versions/:version`, (res, req) => {
    const subject = param(req, 0);
    const raw = param(req, 1);
    answer(res, () => {
      const version = versionOf(raw);
      const v =
        registry.get(subject, version) ??
        notFound(registry.subject(subject) === undefined ? `no subject '${subject}'` : `subject '${subject}' has no version ${raw}`);
      return { subject: v.subject, version: v.version, id: v.id, schemaType: 'JSON', schema: v.schema };
    });
  });
  app.get(`${base}/ids/:id`, (res, req) => {
    const raw = param(req, 0);
    answer(res, () => {
      const id =
        /^[1-9][0-9]{0,9}$/.test(raw) && isSchemaId(Number(raw)) ? Number(raw) : invalid(`id: expected a whole number in 1..${MAX_SCHEMA_ID}, got '${raw}'`);
      const found = registry.byId(id) ?? notFound(`no schema with id ${id}`);
      return { id, schemaType: 'JSON', schema: found.schema, versions: found.versions };
    });
  });
  app.post(`${base}/subjects/:subject/versions`, (res, req) => {
    const subject = param(req, 0);
    if (refused(res, req, subject)) return;
    withJsonBody(res, req, maxBodyBytes, (body) => {
      const b = objectBody(body);
      const result = registry.register(subject, schemaOf(b), {
        topics: b.topics as string[] | undefined,
        types: b.types as string[] | undefined,
        compatibility: b.compatibility as never,
      });
      return { id: result.id, version: result.version };
    });
  });
  app.post(`${base}/compatibility/subjects/:subject/versions/:version`, (res, req) => {
    const subject = param(req, 0);
    const version = param(req, 1);
    withJsonBody(res, req, maxBodyBytes, (body) => {
      if (version !== 'latest') invalid(`version: only 'latest' is supported (the subject's mode decides which versions are checked), got '${version}'`);
      const result = registry.check(subject, schemaOf(objectBody(body)));
      return { is_compatible: result.compatible, messages: result.messages };
    });
  });
  app.put(`${base}/subjects/:subject/bindings`, (res, req) => {
    const subject = param(req, 0);
    if (refused(res, req, subject)) return;
    withJsonBody(res, req, maxBodyBytes, (body) => {
      const b = objectBody(body);
      registry.bind(subject, { topics: b.topics as string[] | undefined, types: b.types as string[] | undefined });
      return registry.subject(subject);
    });
  });
  app.get(`${base}/config`, (res) => reply(res, '200 OK', { compatibilityLevel: registry.defaultCompatibility }));
  app.get(`${base}/config/:subject`, (res, req) => {
    const subject = param(req, 0);
    answer(res, () => ({ compatibilityLevel: registry.compatibility(subject) }));
  });
  app.put(`${base}/config/:subject`, (res, req) => {
    const subject = param(req, 0);
    if (refused(res, req, subject)) return;
    withJsonBody(res, req, maxBodyBytes, (body) => {
      const mode = objectBody(body).compatibility;
      if (!isCompatibilityMode(mode)) invalid(`compatibility: expected one of ${COMPATIBILITY_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
      registry.setCompatibility(subject, mode);
      return { compatibility: mode };
    });
  });
}

// ---------------------------------------------------------------- helpers
function param(req: HttpRequest, index: number): string {
  const raw = req.getParameter(index) ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function versionOf(raw: string): number | 'latest' {
  if (raw === 'latest' || raw === '-1') return 'latest';
  return /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : invalid(`version: expected a whole number >= 1 or 'latest', got '${raw}'`);
}

function notFound(message: string): never {
  throw new SchemaError('MG_ERR_SCHEMA_NOT_FOUND', message);
}

function invalid(message: string): never {
  throw new SchemaError('MG_ERR_SCHEMA_INVALID', message);
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) invalid('expected a JSON object body');
  return body as Record<string, unknown>;
}

/** `schema` as JSON, or as a string of JSON text (Confluent clients send that). */
function schemaOf(b: Record<string, unknown>): unknown {
  if (b.schemaType !== undefined && b.schemaType !== 'JSON') invalid(`schemaType: only 'JSON' (JSON Schema) is supported, got ${JSON.stringify(b.schemaType)}`);
  if (!('schema' in b)) invalid('schema: required; fix: send {"schema": {...JSON Schema...}}');
  if (typeof b.schema !== 'string') return b.schema;
  try {
    return JSON.parse(b.schema) as unknown;
  } catch (err) {
    return invalid(`schema: the string is not JSON text (${(err as Error).message})`);
  }
}

/** Answers with `produce()`'s value, or the error it throws. */
function answer(res: HttpResponse, produce: () => unknown): void {
  let body: unknown;
  try {
    body = produce();
  } catch (err) {
    replyError(res, err);
    return;
  }
  reply(res, '200 OK', body);
}

function replyError(res: HttpResponse, err: unknown, close = false): void {
  if (err instanceof SchemaError) {
    reply(res, STATUS[err.code], { error: err.code, message: err.message, messages: err.reasons }, close);
  } else {
    const code: ErrorCode = 'MG_ERR_INTERNAL';
    reply(res, '500 Internal Server Error', { error: code, message: (err as Error)?.message ?? String(err) }, close);
  }
}

function reply(res: HttpResponse, status: string, body: unknown, close = false): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('Content-Type', 'application/json').end(JSON.stringify(body), close);
  });
}

/**
 * Reads a JSON body (uWS hands it over in chunks that are only valid
 * during the onData callback, so each is copied), then answers with
 * `handle(body)`'s value or the error it throws. Over `limit` bytes: 413
 * and the connection is closed, so the rest of the body is not read.
 */
function withJsonBody(res: HttpResponse, req: HttpRequest, limit: number, handle: (body: unknown) => unknown): void {
  let done = false;
  res.onAborted(() => {
    done = true;
  });
  const tooLarge = () => {
    done = true;
    reply(res, '413 Payload Too Large', { error: TOO_LARGE, message: `request body over ${limit} bytes`, messages: [] }, true);
  };
  const declared = Number(req.getHeader('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    tooLarge();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, isLast) => {
    if (done) return;
    size += chunk.byteLength;
    if (size > limit) {
      tooLarge();
      return;
    }
    chunks.push(Buffer.from(chunk.slice(0)));
    if (!isLast) return;
    done = true;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      reply(res, '400 Bad Request', { error: NOT_JSON, message: `the body is not JSON: ${(err as Error).message}`, messages: [] });
      return;
    }
    answer(res, () => handle(body));
  });
}
