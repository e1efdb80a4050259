/**
 * What an event's `dataschema` attribute can name in the registry:
 *
 *   meshgate:schema:<subject>:<version>               e.g. meshgate:schema:orders:3
 *   meshgate:schema:<subject>:latest
 *   [http(s)://host:port]/v1/schemas/ids/<id>          the registry's GET-by-id URL
 *   [http(s)://host:port]/v1/schemas/subjects/<subject>/versions/<version|latest>
 *
 * The host of an http(s) URL is not looked at: every node answers for the
 * whole mesh's registry. Any other URI names nothing here (null).
 */
export type DataschemaRef =
  | { readonly kind: 'id'; readonly id: number }
  | { readonly kind: 'version'; readonly subject: string; readonly version: number | 'latest' };

/** Subject names: letters, digits, '.', '_' and '-', 1-128 characters. */
export const SUBJECT_NAME = /^[A-Za-z0-9._-]{1,128}$/;

const URN = /^meshgate:schema:([A-Za-z0-9._-]{1,128}):([1-9][0-9]{0,8}|latest)$/;
// Ids are content-derived, 1..2^31-1 (schema-id.ts): up to 10 digits.
const BY_ID = /^(?:https?:\/\/[^/]+)?\/v1\/schemas\/ids\/([1-9][0-9]{0,9})$/;
const BY_VERSION = /^(?:https?:\/\/[^/]+)?\/v1\/schemas\/subjects\/([A-Za-z0-9._-]{1,128})\/versions\/([1-9][0-9]{0,8}|latest)$/;

/** Parses `dataschema`; null when it is not one of the registry's forms. */
export function parseDataschemaRef(dataschema: string): DataschemaRef | null {
  let m = URN.exec(dataschema) ?? BY_VERSION.exec(dataschema);
  if (m !== null) return { kind: 'version', subject: m[1], version: m[2] === 'latest' ? 'latest' : Number(m[2]) };
  m = BY_ID.exec(dataschema);
  if (m !== null) return { kind: 'id', id: Number(m[1]) };
  return null;
}

/** The URN form of a registered version: `meshgate:schema:<subject>:<version>`. */
export function dataschemaUrn(subject: string, version: number): string {
  return `meshgate:schema:${subject}:${version}`;
}
