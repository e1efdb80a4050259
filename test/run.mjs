#!/usr/bin/env node
// Test runner entry (`npm test` runs it after the build).
//
//   1. scripts/ensure-debian-deps.sh: installs missing brokers/binaries
//      (skip with MESHGATE_SKIP_DEBIAN_DEPS=1).
//   2. node --test on every dist/test/**/*.test.js whose source
//      test/**/*.test.ts still exists (stale compiled tests are ignored),
//      2 files at a time, spec reporter on stdout (its closing
//      `ℹ tests N` / `ℹ pass N` / `ℹ fail N` lines are what CI reads) and a
//      TAP copy in a file for the checks below.
//   3. CI=true: a skipped or todo test fails the run, and so does a run
//      with no test at all.
//   4. Whatever is left in the runner's process group (a broker a crashed
//      test file did not stop) is killed and named.
//
// Usage: node test/run.mjs [path-substring ...] [-- extra node --test flags]
//   e.g. npm test -- routing   |   node test/run.mjs helpers -- --test-name-pattern=nats
//
// Environment:
//   CI=true                       strict mode (skip/todo fail)
//   MESHGATE_TEST_CONCURRENCY     files run in parallel (default 2: the CI box has 2 cores)
//   MESHGATE_TEST_WATCHDOG_MS     kill the whole run after this long (default 1_200_000)
//   MESHGATE_KEEP_BROKER_DIRS=1   keep broker temp dirs (always kept when the run fails)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ci = !!process.env.CI && !/^(false|0)$/i.test(process.env.CI);
const log = (msg) => process.stderr.write(`[test/run] ${msg}\n`);

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const filters = (dashdash < 0 ? argv : argv.slice(0, dashdash)).filter((a) => !a.startsWith('--'));
const extraFlags = [...(dashdash < 0 ? argv : argv.slice(0, dashdash)).filter((a) => a.startsWith('--')), ...(dashdash < 0 ? [] : argv.slice(dashdash + 1))];

// ---------------------------------------------------------------- 1. debian deps
if (process.env.MESHGATE_SKIP_DEBIAN_DEPS !== '1') {
  const r = spawnSync('bash', [path.join(root, 'scripts/ensure-debian-deps.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    if (ci) {
      log('scripts/ensure-debian-deps.sh failed: CI needs every broker, stopping.');
      process.exit(1);
    }
    log('WARNING: scripts/ensure-debian-deps.sh failed; tests that need a missing broker will fail.');
  }
}

// ---------------------------------------------------------------- 2. test files
function walk(dir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.isFile() && e.name.endsWith('.test.js') ? [p] : [];
  });
}

const distTest = path.join(root, 'dist', 'test');
const stale = [];
const files = walk(distTest)
  .sort()
  .filter((f) => {
    const rel = path.relative(distTest, f).replace(/\.js$/, '');
    const hasSource = ['.ts', '.mts'].some((ext) => fs.existsSync(path.join(root, 'test', rel + ext)));
    if (!hasSource) stale.push(path.relative(root, f));
    return hasSource;
  })
  .filter((f) => filters.length === 0 || filters.some((s) => path.relative(root, f).includes(s)));

if (stale.length) log(`ignoring compiled tests without a source file: ${stale.join(', ')}`);
if (files.length === 0) {
  log(`no test files found under ${path.relative(root, distTest)}${filters.length ? ` matching ${filters.join(', ')}` : ''} (did the build run?)`);
  process.exit(1);
}

// ---------------------------------------------------------------- 3. run
const tmpBase = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-test-'));
const tapFile = path.join(tmpBase, 'report.tap');
const concurrency = process.env.MESHGATE_TEST_CONCURRENCY || '2';
const args = [
  '--test',
  `--test-concurrency=${concurrency}`,
  // A test that waits forever fails on its own after 2 minutes instead of
  // holding the whole run until the watchdog (the slowest test takes ~30 s).
  '--test-timeout=120000',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=tap',
  `--test-reporter-destination=${tapFile}`,
  ...extraFlags,
  ...files,
];
log(`${files.length} test file(s), concurrency ${concurrency}${ci ? ', CI strict mode' : ''}`);

// detached: the runner leads its own process group, so every broker a test
// starts (they inherit the group) can be found and killed at the end.
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true,
  env: { ...process.env, MESHGATE_TEST_TMP: tmpBase },
});
const pgid = child.pid;

/** pids (with names) still in the runner's process group. */
function groupMembers() {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // fields: state ppid pgrp ...
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(`${e}(${name})`);
    } catch {
      /* gone */
    }
  }
  return out;
}

function signalGroup(sig) {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // no such group left
  }
}

async function killGroup(reason) {
  const members = groupMembers();
  if (members.length === 0) return;
  log(`${reason}: killing ${members.length} leftover process(es): ${members.join(' ')}`);
  signalGroup('SIGTERM');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && groupMembers().length > 0) await new Promise((r) => setTimeout(r, 100));
  if (groupMembers().length > 0) signalGroup('SIGKILL');
}

let interrupted = null;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = sig;
    log(`${sig}: stopping tests`);
    signalGroup('SIGTERM');
    setTimeout(() => signalGroup('SIGKILL'), 5000).unref();
  });
}
const watchdogMs = Number(process.env.MESHGATE_TEST_WATCHDOG_MS || 1_200_000);
const watchdog = setTimeout(() => {
  log(`watchdog: the test run exceeded ${watchdogMs} ms, killing it`);
  interrupted = 'watchdog';
  signalGroup('SIGTERM');
  setTimeout(() => signalGroup('SIGKILL'), 5000).unref();
}, watchdogMs);
watchdog.unref();

const { code, signal } = await new Promise((resolve) => {
  child.once('exit', (c, s) => resolve({ code: c, signal: s }));
  child.once('error', (err) => {
    log(`could not start node --test: ${err.message}`);
    resolve({ code: 1, signal: null });
  });
});
clearTimeout(watchdog);
await killGroup('after the run');

// ---------------------------------------------------------------- 4. checks
let exitCode = code ?? 1;
if (signal) log(`node --test ended by ${signal}`);
if (interrupted) exitCode = exitCode || 1;

const tap = fs.existsSync(tapFile) ? fs.readFileSync(tapFile, 'utf8') : '';
const summary = {};
for (const m of tap.matchAll(/^# (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) summary[m[1]] = Number(m[2]);
if (!('tests' in summary)) {
  log('no TAP summary was written: the test runner did not finish');
  exitCode = exitCode || 1;
} else if (ci) {
  const problems = [];
  if (summary.tests === 0) problems.push('no tests ran');
  if (summary.skipped > 0) problems.push(`${summary.skipped} skipped`);
  if (summary.todo > 0) problems.push(`${summary.todo} todo`);
  if (problems.length) {
    const marked = tap
      .split('\n')
      .filter((l) => /^\s*(not )?ok \d+ - .*# (SKIP|TODO)/i.test(l))
      .map((l) => `  ${l.trim()}`);
    log(`CI=true: ${problems.join(', ')}; every test must run.\n${marked.join('\n')}`);
    exitCode = exitCode || 1;
  }
}

if (exitCode === 0 && process.env.MESHGATE_KEEP_BROKER_DIRS !== '1') {
  fs.rmSync(tmpBase, { recursive: true, force: true });
} else {
  log(`broker logs and TAP report kept in ${tmpBase}`);
}
process.exit(exitCode);
