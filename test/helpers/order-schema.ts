/**
 * The small change-event schema the validation suites share: required
 * properties one level down, typed values, an enum. INVALID breaks it
 * twice, and INVALID_REASONS is what ajv says of it, pointer by pointer.
 */
export const ORDER = {
  type: 'object',
  required: ['op', 'after'],
  properties: {
    op: { enum: ['c', 'u', 'd'] },
    after: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, total: { type: 'integer', minimum: 0 } } },
  },
};
export const VALID = { op: 'c', after: { id: 7, total: 120 } };
/** Breaks ORDER twice: a missing required property and a wrong type. */
export const INVALID = { op: 'c', after: { total: 'twelve' } };
export const INVALID_REASONS = [
  { path: '/after/id', message: "must have required property 'id'" },
  { path: '/after/total', message: 'must be integer' },
];
