import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { startTestNode } from '../helpers/node.js';

/** A GET with the path sent exactly as given (fetch would normalise `..`). */
function rawGet(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('every node serves the client library under /v1/client/ and the console at /console, as ES modules and HTML', async (t) => {
  const node = await startTestNode(t);
  const lib = await rawGet(node.port, '/v1/client/meshgate-client.js');
  assert.equal(lib.status, 200);
  assert.match(lib.type, /^text\/javascript/);
  assert.match(lib.body, /export class MeshgateClient/);
  assert.doesNotMatch(lib.body, /from 'node:|from "node:|from 'ws'/, 'no Node imports in the browser path');
  const mod = await rawGet(node.port, '/v1/client/mod.js');
  assert.match(mod.body, /export \* from '\.\/meshgate-client\.js'/);
  for (const path of ['/console', '/console/']) {
    const page = await rawGet(node.port, path);
    assert.equal(page.status, 200, path);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /<script type="module" src="\/v1\/console\/console\.js">/);
  }
  const script = await rawGet(node.port, '/v1/console/console.js');
  assert.equal(script.status, 200);
  assert.match(script.body, /from '\.\.\/client\/mod\.js'/, 'resolves to /v1/client/mod.js in the browser');
  assert.match((await rawGet(node.port, '/v1/console/console.css')).type, /^text\/css/);
});

test('the file routes serve only plain names from their folders', async (t) => {
  const node = await startTestNode(t);
  for (const path of [
    '/v1/client/../../package.json',
    '/v1/client/..%2F..%2Fpackage.json',
    '/v1/client/nope.js',
    '/v1/client/',
    '/v1/console/../broker/server.js',
    '/v1/console/.hidden.js',
    '/v1/client/server.ts',
  ]) {
    const r = await rawGet(node.port, path);
    assert.equal(r.status, 404, path);
    assert.equal((JSON.parse(r.body) as { error: string }).error, 'MG_ERR_NOT_FOUND', path);
  }
});

test('GET /v1/mesh on a lone node shows the node itself, its local filters and no links', async (t) => {
  const node = await startTestNode(t);
  const view = (await (await fetch(`${node.httpUrl}/v1/mesh`)).json()) as {
    node: string;
    nodes: Array<{ id: string; self: boolean; reachable: boolean; local: string[] }>;
    links: unknown[];
  };
  assert.equal(view.node, 'test-node');
  assert.deepEqual(view.nodes, [{ id: 'test-node', region: 'test', url: null, reachable: true, self: true, local: [], bridges: [], streams: [] }]);
  assert.deepEqual(view.links, []);
});
