import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../../helpers/mesh.js';
import { runCli } from '../../helpers/node.js';

test('a second meshgate start on a port another node holds exits 1 with the in-use message; the first keeps serving', async (t) => {
  const port = await freePort();
  const first = runCli(t, ['start', '--port', String(port), '--node-id', 'owner']);
  await first.waitForOutput(' ready\n');
  const second = runCli(t, ['start', '--port', String(port), '--node-id', 'intruder']);
  // Whichever comes first: with port reuse the second node would print ready and stay up.
  const outcome = await second.waitForOutput(' ready\n').then(
    () => 'ready',
    () => 'exited',
  );
  assert.equal(outcome, 'exited', second.stdout + second.stderr);
  assert.equal(await second.exited, 1);
  assert.match(second.stderr, new RegExp(`listen: cannot bind 127\\.0\\.0\\.1:${port} \\(in use`));
  // Every request reaches the node that owns the port (with port reuse the kernel would split them).
  for (let i = 0; i < 20; i++) {
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as Record<string, string>;
    assert.equal(health.node, 'owner');
  }
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);
});
