import { readFileSync } from 'node:fs';
import type { ParseArgsConfig, parseArgs } from 'node:util';
import { apiBase, callJson, DEFAULT_API_URL, printRefusal } from './cli-fetch.js';

/**
 * `meshgate schema add|list|check`: the registry API (broker/schema-api.ts)
 * from the command line. Exit codes: 0 done / compatible, 1 refused /
 * not compatible / node error, 2 usage.
 */
const DEFAULT_URL = DEFAULT_API_URL;

const USAGE = `meshgate schema add SUBJECT FILE [--topic FILTER]... [--type TYPE]... [--compat MODE] [--url U]
       meshgate schema list [--url U] [--json]
       meshgate schema check SUBJECT FILE [--url U]

  add      register FILE (a JSON Schema; '-' reads stdin) as the next version of
           SUBJECT; prints 'registered SUBJECT version V (id I)', or the reasons
           it was refused (exit 1)
  list     print every subject: versions, latest id, mode, bound topics and types
  check    is FILE compatible with SUBJECT under its mode? exit 0 yes, 1 no
           (the reasons are printed)

  --topic FILTER  bind SUBJECT to this topic filter; repeatable; replaces the
                  subject's topic bindings (omitted: kept)
  --type TYPE     bind SUBJECT to this CloudEvents type; repeatable; replaces
                  the subject's type bindings (omitted: kept)
  --compat MODE   set SUBJECT's mode first: NONE, BACKWARD (default), FORWARD,
                  FULL, BACKWARD_TRANSITIVE, FORWARD_TRANSITIVE, FULL_TRANSITIVE
  --url U         the node (http(s):// or its ws(s):// URL; default ${DEFAULT_URL};
                  env MESHGATE_URL)
  --json          list: print the subjects as JSON`;

type ParsedValues = ReturnType<typeof parseArgs>['values'];

/** The `schema` entry of the CLI's command table. */
export const SCHEMA_COMMAND = {
  summary: 'register, list and check JSON Schemas in the node registry',
  usage: USAGE,
  options: {
    topic: { type: 'string', multiple: true },
    type: { type: 'string', multiple: true },
    compat: { type: 'string' },
    url: { type: 'string' },
    json: { type: 'boolean' },
  } satisfies NonNullable<ParseArgsConfig['options']>,
  async run(v: ParsedValues, positionals: string[]): Promise<number> {
    const [sub, subject, file] = positionals;
    const base = apiBase(v.url as string | undefined, '/v1/schemas');
    switch (sub) {
      case 'add': {
        if (subject === undefined || file === undefined) return usage('add needs SUBJECT and FILE');
        const body: Record<string, unknown> = { schema: readSchema(file) };
        if (v.topic !== undefined) body.topics = v.topic;
        if (v.type !== undefined) body.types = v.type;
        if (v.compat !== undefined) body.compatibility = (v.compat as string).toUpperCase();
        const [status, answer] = await callJson('POST', `${base}/subjects/${encodeURIComponent(subject)}/versions`, body);
        if (status !== 200) return printRefusal(answer);
        process.stdout.write(`registered ${subject} version ${String(answer.version)} (id ${String(answer.id)})\n`);
        return 0;
      }
      case 'check': {
        if (subject === undefined || file === undefined) return usage('check needs SUBJECT and FILE');
        const [status, answer] = await callJson('POST', `${base}/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, {
          schema: readSchema(file),
        });
        if (status !== 200) return printRefusal(answer);
        const messages = (answer.messages as string[] | undefined) ?? [];
        if (answer.is_compatible === true) {
          process.stdout.write(`compatible with ${subject}\n`);
          return 0;
        }
        process.stdout.write(`not compatible with ${subject}:\n${messages.map((m) => `  ${m}\n`).join('')}`);
        return 1;
      }
      case 'list': {
        const [status, names] = await callJson('GET', `${base}/subjects`);
        if (status !== 200) return printRefusal(names);
        const rows: Array<Record<string, unknown>> = [];
        for (const name of names as unknown as string[]) {
          const [, info] = await callJson('GET', `${base}/subjects/${encodeURIComponent(name)}`);
          const [, latest] = await callJson('GET', `${base}/subjects/${encodeURIComponent(name)}/versions/latest`);
          rows.push({ ...info, latestVersion: latest.version ?? null, latestId: latest.id ?? null });
        }
        if (v.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return 0;
        }
        const cols = ['subject', 'versions', 'latest', 'id', 'compatibility', 'topics', 'types'];
        const cells = rows.map((r) => [
          String(r.subject),
          String((r.versions as number[]).length),
          r.latestVersion === null ? '-' : String(r.latestVersion),
          r.latestId === null ? '-' : String(r.latestId),
          String(r.compatibility),
          (r.topics as string[]).join(',') || '-',
          (r.types as string[]).join(',') || '-',
        ]);
        const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
        const line = (cs: string[]) =>
          cs
            .map((c, i) => c.padEnd(widths[i]))
            .join('  ')
            .trimEnd();
        process.stdout.write(`${rows.length} subject(s)\n${line(cols)}\n${cells.map((r) => `${line(r)}\n`).join('')}`);
        return 0;
      }
      default:
        return usage(sub === undefined ? 'schema needs a subcommand: add, list or check' : `unknown subcommand '${sub}'`);
    }
  },
};

function readSchema(file: string): unknown {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`, { cause: err });
  }
}

function usage(message: string): number {
  process.stderr.write(`meshgate schema: ${message}\n\nUsage: ${USAGE}\n`);
  return 2;
}
