import { createRequire } from 'node:module';

/**
 * The JSON Schemas shipped in schemas/ (the system's own formats), read
 * once on first use:
 *
 *   cloudevents       CloudEvents 1.0 envelope, JSON format (draft 2020-12)
 *   db-change-event   a Debezium-style database change event (draft 2020-12)
 *   config            the node configuration file (draft-07; broker/config.ts compiles it)
 */
export const SHIPPED_SCHEMAS = {
  cloudevents: 'cloudevents.schema.json',
  'db-change-event': 'db-change-event.schema.json',
  config: 'config.schema.json',
} as const;

export type ShippedSchemaName = keyof typeof SHIPPED_SCHEMAS;

const require = createRequire(import.meta.url);

/** A shipped schema as parsed JSON (dist/schemas/*.js reads the source folder's .json files). */
export function shippedSchema(name: ShippedSchemaName): Record<string, unknown> {
  return require(`../../schemas/${SHIPPED_SCHEMAS[name]}`) as Record<string, unknown>;
}
