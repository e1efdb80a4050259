import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCode, isRetryable } from '../../../broker/base/mod.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** The rows of docs/protocol.md's error table: code -> retry column. */
function documentedCodes(): Map<string, boolean> {
  const doc = readFileSync(path.join(ROOT, 'docs', 'protocol.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Error codes'), doc.indexOf('\n## ', doc.indexOf('## Error codes') + 1));
  const rows = new Map<string, boolean>();
  for (const m of section.matchAll(/^\|\s*`(MG_ERR_[A-Z0-9_]+)`\s*\|\s*(yes|no)\s*\|/gm)) rows.set(m[1], m[2] === 'yes');
  return rows;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

test('the error catalogue and the table in docs/protocol.md list the same codes with the same retry', () => {
  const documented = documentedCodes();
  const catalogued = new Map(Object.entries(ERROR_CODES).map(([code, entry]) => [code, entry.retry]));
  assert.deepEqual([...documented.keys()].sort(), [...catalogued.keys()].sort());
  for (const [code, retry] of catalogued) assert.equal(documented.get(code), retry, `${code}: retry in docs/protocol.md`);
});

test('every MG_ERR_ code the node and bridges spell is in the catalogue', () => {
  const known = new Set(Object.keys(ERROR_CODES));
  const stray: string[] = [];
  for (const file of [...sourceFiles('broker'), ...sourceFiles('bridges')]) {
    for (const m of readFileSync(path.join(ROOT, file), 'utf8').matchAll(/\bMG_ERR_[A-Z0-9_]*[A-Z0-9]\b/g)) {
      // An area prefix (`startsWith('MG_ERR_TOPIC')`) names codes, it is not one.
      const isArea = [...known].some((code) => code.startsWith(`${m[0]}_`));
      if (!known.has(m[0]) && !isArea) stray.push(`${file}: ${m[0]}`);
    }
  }
  assert.deepEqual(stray, []);
});

test('no message in broker/ or bridges/ spells its code by hand: codedReason() types it against the catalogue', () => {
  const handSpelled: string[] = [];
  for (const file of [...sourceFiles('broker'), ...sourceFiles('bridges')]) {
    if (file.endsWith(path.join('base', 'errors.ts'))) continue;
    const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return; // comments may quote codes
      if (/['`"]MG_ERR_[A-Z0-9_]+: /.test(line)) handSpelled.push(`${file}:${i + 1}`);
    });
  }
  assert.deepEqual(handSpelled, []);
});

test('isRetryable() answers from the catalogue: limits may be retried, a bad event may not', () => {
  assert.equal(isRetryable('MG_ERR_PUB_RATE'), true);
  assert.equal(isRetryable('MG_ERR_CONN_LIMIT'), true);
  assert.equal(isRetryable('MG_ERR_EVENT_INVALID'), false);
  assert.equal(isRetryable('MG_ERR_AUTH_FORBIDDEN' satisfies ErrorCode), false);
});
