/**
 * What can go wrong with a registry request. The codes belong to the
 * node's error catalogue (`broker/errors.ts` lists them); they are spelled
 * out here because schemas/ imports nothing of broker/.
 */
export type SchemaErrorCode = 'MG_ERR_SCHEMA_INVALID' | 'MG_ERR_SCHEMA_INCOMPATIBLE' | 'MG_ERR_SCHEMA_NOT_FOUND' | 'MG_ERR_SCHEMA_BINDING_CONFLICT';

/**
 * Thrown by the registry's configuration-time operations (register, set
 * compatibility, import), never on a per-event path: `validatorFor` and
 * the validators it returns never throw.
 *
 * @example
 * try { registry.register('orders', schema); }
 * catch (err) { if (err instanceof SchemaError) console.log(err.code, err.reasons); }
 */
export class SchemaError extends Error {
  readonly code: SchemaErrorCode;
  /** One line per reason: ajv errors for an invalid schema, compatibility problems for an incompatible one. */
  readonly reasons: readonly string[];

  constructor(code: SchemaErrorCode, message: string, reasons: readonly string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.reasons = reasons;
  }
}
