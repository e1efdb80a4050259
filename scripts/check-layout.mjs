#!/usr/bin/env node
// Checks the dependency order of the source folders (README, "Layout"):
//   1. a file imports only its own folder or folders earlier in LAYERS;
//   2. outside test/ and bench/, another folder of ours is reached through its
//      mod.ts (test/ and bench/ may also use a folder's internal.ts);
//   3. a bridge never imports another bridge (bridges/core/ is shared by all);
//   4. no import cycle anywhere, between two files or longer, bench/ and test/ included.
// Exit 0 when the tree keeps the order, 1 with one line per violation.
// Usage: node scripts/check-layout.mjs [repo-root]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Lowest first. A folder may import the folders before it, never after.
 * Longest prefix wins: broker/pipeline/x.ts belongs to broker/pipeline, broker/mod.ts to broker.
 */
export const LAYERS = [
  'routing',
  'schemas',
  'broker/base',
  'broker/event',
  'broker/telemetry',
  'broker/pipeline',
  'broker/streams',
  'broker/auth',
  'broker/peering',
  'broker/ws',
  'broker/http',
  'broker/webhooks',
  'broker/config',
  'broker/node',
  'broker/cli',
  'broker',
  'client',
  'bridges/core',
  'bridges/amqp',
  'bridges/mqtt',
  'bridges/nats',
  'bridges/postgres',
  'bridges',
  'bin',
  'console',
  'demo',
  'bench',
  'test',
];
/** Folders of equal rank that must not import each other: each bridge stands alone. */
const SIBLINGS = ['bridges/amqp', 'bridges/mqtt', 'bridges/nats', 'bridges/postgres'];
/** Programs, not libraries: nothing imports them but their tests, which may reach any file. */
const PROGRAMS = new Set(['bin', 'console', 'demo', 'bench', 'test']);

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function walk(root, dir, out) {
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory()) walk(root, rel, out);
    else if (/\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function layerOf(file) {
  let best = null;
  for (const l of LAYERS) if ((file.startsWith(`${l}/`) || file === l) && (best === null || l.length > best.length)) best = l;
  return best;
}

function stripComments(src) {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** Imports of one file, resolved to repo-relative .ts paths (null where it leaves the repo's sources). */
function importsOf(root, file) {
  const src = stripComments(fs.readFileSync(path.join(root, file), 'utf8'));
  const found = [];
  for (const m of src.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.(m?js)$/, (_, e) => (e === 'mjs' ? '.mts' : '.ts'));
    if (!target.endsWith('.ts') && !target.endsWith('.mts')) continue; // JSON and other assets
    found.push({ spec, target });
  }
  return found;
}

export function checkLayout(root) {
  const files = walk(root, '', []);
  const known = new Set(files);
  const problems = [];
  const graph = new Map();
  for (const file of files) {
    const from = layerOf(file);
    const edges = [];
    for (const { spec, target } of importsOf(root, file)) {
      if (!known.has(target)) {
        problems.push(`${file}: imports '${spec}', which is not a source file here`);
        continue;
      }
      edges.push(target);
      const to = layerOf(target);
      if (from === null || to === null || from === to) continue;
      const rank = (l) => LAYERS.indexOf(l);
      if (SIBLINGS.includes(from) && SIBLINGS.includes(to)) {
        problems.push(`${file}: imports ${target}: a bridge never imports another bridge (share it through bridges/core/)`);
      } else if (rank(to) > rank(from) && !(from === 'test' || from === 'bench')) {
        problems.push(`${file}: imports ${target}: ${from}/ may not import ${to}/, which comes after it in the layout order`);
      }
      // Every folder of ours is reached through its surface: mod.ts, or for tests and benches also internal.ts.
      const surface = path.posix.basename(target).replace(/\.m?ts$/, '');
      const testSide = from === 'test' || from === 'bench';
      if (!PROGRAMS.has(to) && surface !== 'mod' && !(testSide && surface === 'internal')) {
        problems.push(`${file}: imports ${target}: reach ${to}/ through its mod.ts${testSide ? ' (or internal.ts)' : ''}`);
      }
    }
    graph.set(file, edges);
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${cycle.join(' -> ')}`);
  return problems;
}

/** Strongly connected components of two or more files (Tarjan), each as one cycle to show. */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push([...comp.reverse(), comp[0]]);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const problems = checkLayout(root);
  for (const p of problems) process.stderr.write(`[check-layout] ${p}\n`);
  if (problems.length > 0) {
    process.stderr.write(`[check-layout] ${problems.length} violation(s) of the layout order (README, "Layout")\n`);
    process.exit(1);
  }
  process.stderr.write('[check-layout] imports follow the layout order, no cycles\n');
}
