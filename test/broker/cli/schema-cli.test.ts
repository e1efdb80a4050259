import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { canonicalJson } from '../../../schemas/internal.js';
import { schemaIdOf } from '../../../schemas/mod.js';
import { runCli, startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';

function schemaFile(name: string, schema: unknown): string {
  const dir = testTmpDir(undefined, 'meshgate-schema-cli');
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(schema));
  return file;
}

const v1 = { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false };
const v2 = { type: 'object', properties: { id: { type: 'string' }, note: { type: 'string' } }, additionalProperties: false };
const stricter = { ...v1, required: ['id'] };

test('meshgate schema --help and each subcommand --help print usage and exit 0', async (t) => {
  for (const args of [
    ['schema', '--help'],
    ['schema', 'add', '--help'],
    ['schema', 'list', '--help'],
    ['schema', 'check', '--help'],
  ]) {
    const cli = runCli(t, args);
    assert.equal(await cli.exited, 0, args.join(' '));
    assert.match(cli.stdout, /Usage: meshgate schema add SUBJECT FILE/);
    assert.match(cli.stdout, /meshgate schema check SUBJECT FILE/);
  }
  const bare = runCli(t, ['schema']);
  assert.equal(await bare.exited, 2);
  assert.match(bare.stderr, /needs a subcommand/);
});

test('meshgate schema add registers with bindings and mode; list shows it; an incompatible add exits 1 with the reasons', async (t) => {
  const node = await startTestNode(t);
  const url = node.wsUrl; // a ws:// node URL is accepted too
  const add = runCli(t, [
    'schema',
    'add',
    'orders',
    schemaFile('v1.json', v1),
    '--topic',
    'orders.>',
    '--topic',
    'shop.orders',
    '--type',
    'order.created',
    '--compat',
    'full',
    '--url',
    url,
  ]);
  assert.equal(await add.exited, 0, add.stderr);
  // The id is the schema's content id: the same on every node.
  const id = schemaIdOf(canonicalJson(v1));
  assert.equal(add.stdout, `registered orders version 1 (id ${id})\n`);
  assert.deepEqual(node.schemas.subject('orders'), {
    subject: 'orders',
    compatibility: 'FULL',
    topics: ['orders.>', 'shop.orders'],
    types: ['order.created'],
    versions: [1],
  });

  const refused = runCli(t, ['schema', 'add', 'orders', schemaFile('v2.json', v2), '--url', node.httpUrl]);
  assert.equal(await refused.exited, 1);
  assert.match(refused.stderr, /^MG_ERR_SCHEMA_INCOMPATIBLE: /);
  assert.match(refused.stderr, /FULL against version 1: property 'note' added while the old schema's additionalProperties is false at \/properties\/note/);

  const list = runCli(t, ['schema', 'list', '--url', node.httpUrl]);
  assert.equal(await list.exited, 0, list.stderr);
  assert.match(
    list.stdout,
    new RegExp(
      `^1 subject\\(s\\)\nsubject\\s+versions\\s+latest\\s+id\\s+compatibility\\s+topics\\s+types\norders\\s+1\\s+1\\s+${id}\\s+FULL\\s+orders\\.>,shop\\.orders\\s+order\\.created\n$`,
    ),
  );
  const json = runCli(t, ['schema', 'list', '--json', '--url', node.httpUrl]);
  assert.equal(await json.exited, 0);
  assert.equal((JSON.parse(json.stdout) as Array<Record<string, unknown>>)[0].latestId, id);

  const invalid = runCli(t, ['schema', 'add', 'orders', schemaFile('bad.json', { type: 'object', propertiez: {} }), '--url', node.httpUrl]);
  assert.equal(await invalid.exited, 1);
  assert.match(invalid.stderr, /^MG_ERR_SCHEMA_INVALID: .*propertiez/);
});

test('meshgate schema check exits 0 when compatible and 1 with the reasons when not', async (t) => {
  const node = await startTestNode(t);
  node.schemas.register('orders', v1);
  const ok = runCli(t, ['schema', 'check', 'orders', schemaFile('v2.json', v2), '--url', node.httpUrl]);
  assert.equal(await ok.exited, 0, ok.stderr);
  assert.equal(ok.stdout, 'compatible with orders\n');
  const not = runCli(t, ['schema', 'check', 'orders', schemaFile('strict.json', stricter), '--url', node.httpUrl]);
  assert.equal(await not.exited, 1);
  assert.equal(not.stdout, "not compatible with orders:\n  BACKWARD against version 1: property 'id' became required at /properties/id\n");
  assert.deepEqual(node.schemas.subject('orders')?.versions, [1], 'check registers nothing');
});
