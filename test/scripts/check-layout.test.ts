import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testTmpDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { checkLayout } = (await import(path.join(ROOT, 'scripts', 'check-layout.mjs'))) as { checkLayout(root: string): string[] };

/** A tiny tree: each entry is a file path and the relative imports it makes. */
function tree(t: TestContext, files: Record<string, string[]>): string {
  const dir = testTmpDir(t, 'layout');
  for (const [file, imports] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), imports.map((i) => `import { x } from '${i}';\n`).join('') + 'export const x = 1;\n');
  }
  return dir;
}

test('the repository keeps the layout order: no import against it and no import cycle', () => {
  assert.deepEqual(checkLayout(ROOT), []);
});

test('check-layout refuses a lower folder importing a higher one', (t) => {
  const dir = tree(t, { 'routing/mod.ts': ['../broker/pipeline/mod.js'], 'broker/pipeline/mod.ts': [] });
  const problems = checkLayout(dir);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /routing\/ may not import broker\/pipeline\//);
});

test("check-layout refuses a source reaching past another folder's mod.ts, and lets tests use internal.ts", (t) => {
  const dir = tree(t, {
    'broker/ws/mod.ts': ['../pipeline/dedup.js'],
    'broker/pipeline/dedup.ts': [],
    'broker/pipeline/internal.ts': [],
    'test/broker/pipeline/dedup.test.ts': ['../../../broker/pipeline/internal.js', '../../../broker/pipeline/dedup.js'],
  });
  const problems = checkLayout(dir);
  assert.deepEqual(
    problems.map((p) => p.split(':')[0]),
    ['broker/ws/mod.ts', 'test/broker/pipeline/dedup.test.ts'],
  );
  assert.match(problems[0], /through its mod\.ts$/);
  assert.match(problems[1], /through its mod\.ts \(or internal\.ts\)$/);
});

test('check-layout refuses one bridge importing another', (t) => {
  const dir = tree(t, { 'bridges/mqtt/mod.ts': ['../amqp/mod.js'], 'bridges/amqp/mod.ts': [] });
  assert.match(checkLayout(dir).join('\n'), /a bridge never imports another bridge/);
});

test('check-layout finds import cycles, two files or longer, in bench/ too', (t) => {
  const dir = tree(t, {
    'bench/a.ts': ['./b.js'],
    'bench/b.ts': ['./a.js'],
    'broker/pipeline/x.ts': ['./y.js'],
    'broker/pipeline/y.ts': ['./z.js'],
    'broker/pipeline/z.ts': ['./x.js'],
  });
  const cycles = checkLayout(dir).filter((p) => p.startsWith('import cycle'));
  assert.equal(cycles.length, 2);
  assert.ok(cycles.some((c) => c.includes('bench/a.ts') && c.includes('bench/b.ts')));
  assert.ok(cycles.some((c) => ['x', 'y', 'z'].every((n) => c.includes(`broker/pipeline/${n}.ts`))));
});
