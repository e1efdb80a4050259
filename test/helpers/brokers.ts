/**
 * Real external brokers for tests and benches: nats-server, mosquitto and
 * RabbitMQ, each started as a child process on free 127.0.0.1 ports in its
 * own temporary directory.
 *
 * Rules these helpers keep:
 * - Everything binds 127.0.0.1 (RabbitMQ's Erlang distribution port and
 *   its private epmd too).
 * - Readiness is observed, never slept for: the log line the broker prints
 *   when ready, plus a real connection (a TCP connect for NATS/MQTT, a full
 *   AMQP handshake up to channel.open for RabbitMQ, whose port accepts
 *   connections seconds before the vhost is usable).
 * - Every wait is bounded; a timeout or an early exit throws a
 *   {@link BrokerStartError} whose message carries the broker's log tail.
 * - A missing binary throws {@link BrokerMissingError} saying how to
 *   install it. The helpers never skip: STYLE.md says a missing broker
 *   is a failure when CI=true, and a local run should say so loudly too.
 * - Child processes are killed (SIGKILL) when this process exits, and
 *   test/run.mjs kills whatever is left in its process group.
 *
 * Start-up budgets measured on the 2-core dev box (Debian 12):
 *   nats-server  ~20-50 ms       (timeout 10 s)
 *   mosquitto    ~10-30 ms       (timeout 10 s)
 *   RabbitMQ     ~4-8 s cold, ~4-6 s restart; stop ~3 s (timeout 90 s)
 *
 * Environment:
 *   MESHGATE_TEST_TMP          parent directory for broker dirs (test/run.mjs sets it)
 *   MESHGATE_KEEP_BROKER_DIRS  =1 keeps a broker's directory after stop()
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { AmqpMiniConnection } from './amqp-mini.js';
import { testTmpDir } from './tmp.js';

// ---------------------------------------------------------------------------
// Errors

/** A broker binary is not installed. `code` = MG_ERR_TEST_BROKER_MISSING. */
export class BrokerMissingError extends Error {
  readonly code = 'MG_ERR_TEST_BROKER_MISSING';
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A broker did not become ready in time or exited early. `code` = MG_ERR_TEST_BROKER_START. */
export class BrokerStartError extends Error {
  readonly code = 'MG_ERR_TEST_BROKER_START';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

// ---------------------------------------------------------------------------
// Public handle shapes

/** What every broker handle offers. */
export interface BrokerHandle {
  /** Client URL on 127.0.0.1. */
  readonly url: string;
  /** Client port; the same after restart(). */
  readonly port: number;
  /** pid of the broker process itself (beam.smp for RabbitMQ); changes on restart(). */
  readonly pid: number;
  /** Temporary directory holding config, data and log. */
  readonly dir: string;
  /** File receiving the broker's stdout and stderr (appended across restarts). */
  readonly logFile: string;
  /** Last lines of the log, for assertion messages. */
  logTail(lines?: number): string;
  /** Graceful stop (SIGTERM, SIGKILL after a bound), then removes `dir`. Idempotent. */
  stop(): Promise<void>;
  /**
   * Sends a signal to the broker process and returns at once (crash or
   * outage simulation). Follow with restart() to bring it back.
   * @default signal 'SIGKILL'
   */
  kill(signal?: NodeJS.Signals): void;
  /**
   * Brings the broker back on the same ports with the same data: stops it
   * gracefully if running, waits for the exit if kill() was sent, starts
   * again and waits until ready.
   */
  restart(): Promise<void>;
}

export interface NatsServerHandle extends BrokerHandle {
  /** Monitoring endpoint, e.g. `${monitorUrl}/connz`, `/subsz`, `/routez`, `/varz`. */
  readonly monitorUrl: string;
  readonly monitorPort: number;
  /** Route listen port when started with `cluster`. */
  readonly clusterPort?: number;
  /** `nats://127.0.0.1:${clusterPort}`: give it to another node's `routes`. */
  readonly clusterUrl?: string;
}

export interface NatsServerOptions {
  /** Join or seed a route cluster; listens for routes on 127.0.0.1. */
  cluster?: { name: string; routes?: string[] };
  /** Extra nats-server arguments, appended as-is. */
  args?: string[];
  /** Enable JetStream (`-js`), storing in `jetstream/` of the broker's directory, so restart() keeps streams. @default false */
  jetstream?: boolean;
  /**
   * nats-server.conf lines (e.g. `max_payload: 65536`, which has no
   * command-line flag), written to the broker's directory and given with
   * `-c`. Command-line flags (listen address, ports) override the file.
   */
  config?: string[];
  /** @default 10_000 */
  startTimeoutMs?: number;
}

export interface MosquittoHandle extends BrokerHandle {}

export interface MosquittoOptions {
  /** Extra mosquitto.conf lines appended to the generated config. */
  config?: string[];
  /**
   * ACL file lines (mosquitto.conf(5) acl_file: `topic read #`,
   * `topic readwrite ok/#`; lines before any `user` apply to anonymous
   * clients), written to the broker's directory and named by `acl_file`.
   */
  acl?: string[];
  /** @default 10_000 */
  startTimeoutMs?: number;
}

export interface RabbitMQHandle extends BrokerHandle {
  /** Erlang node name, e.g. `mg-3f9a1c2b@localhost`. */
  readonly nodeName: string;
  readonly distPort: number;
  readonly epmdPort: number;
  /** Set when started with `management: true`. */
  readonly managementUrl?: string;
  /** Environment for `rabbitmqctl -n ${nodeName} …` against this instance. */
  readonly ctlEnv: NodeJS.ProcessEnv;
}

export interface RabbitMQOptions {
  /** Enable rabbitmq_management on a free 127.0.0.1 port (adds ~2 s to start). @default false */
  management?: boolean;
  /** Extra rabbitmq.conf lines (sysctl format). */
  config?: string[];
  /** @default 90_000 */
  startTimeoutMs?: number;
}

// ---------------------------------------------------------------------------
// Small utilities (exported for other helpers and bench/)

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not read the bound port'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** Resolves true when a TCP connection to 127.0.0.1:port succeeds within timeoutMs. */
export function tcpProbe(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const EXTRA_BIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Absolute path of a binary from PATH or the sbin directories (Debian puts
 * nats-server, mosquitto and rabbitmq-server in /usr/sbin, which is not on
 * a non-root PATH). Throws {@link BrokerMissingError} with install advice.
 */
export function findBinary(name: string, debianPackage: string, preferred: string[] = []): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const p of [...preferred, ...dirs.map((d) => path.join(d, name))]) {
    if (isExecutable(p)) return p;
  }
  throw new BrokerMissingError(
    `${name} not found (looked in PATH and ${EXTRA_BIN_DIRS.join(', ')}). ` +
      `Install it with \`sudo apt-get install -y ${debianPackage}\` (Debian/Ubuntu), ` +
      `or run \`bash scripts/ensure-debian-deps.sh\` which installs every broker the tests need.`,
  );
}

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}

/** Last `lines` lines of a text file (reads at most the last 16 KiB). */
export function fileTail(file: string, lines = 40): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 16 * 1024);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return stripAnsi(buf.toString('utf8'))
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return `(log ${file} unreadable: ${(err as Error).message})`;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return '';
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function makeDir(kind: string): string {
  // Not removed per test: a failing run keeps broker logs for reading.
  return testTmpDir(undefined, kind);
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Child process management

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only option here.
  process.on('exit', () => {
    for (const c of liveChildren) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** One spawned process with its stdout+stderr appended to a log file. */
class LoggedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Size of the log when this process started: readiness looks only after it. */
  readonly logOffset: number;
  #exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(command: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string; logFile: string }) {
    installExitHook();
    this.logOffset = fileSize(opts.logFile);
    const fd = fs.openSync(opts.logFile, 'a');
    try {
      fs.writeSync(fd, `\n=== ${new Date().toISOString()} spawn ${command} ${args.join(' ')}\n`);
      this.child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd); // the child holds its own copy
    }
    liveChildren.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        liveChildren.delete(this.child);
        this.#exitInfo = { code, signal };
        resolve(this.#exitInfo);
      });
      this.child.once('error', () => {
        liveChildren.delete(this.child);
        this.#exitInfo = { code: null, signal: null };
        resolve(this.#exitInfo);
      });
    });
  }

  get exitInfo() {
    return this.#exitInfo;
  }

  get alive(): boolean {
    return this.#exitInfo === null;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) {
      try {
        this.child.kill(sig);
      } catch {
        /* raced with exit */
      }
    }
  }

  /** SIGTERM (or `sig`), then SIGKILL if still alive after graceMs. */
  async terminate(sig: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.signal(sig);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

interface WaitOptions {
  what: string;
  timeoutMs: number;
  proc: LoggedProcess;
  logFile: string;
}

/**
 * Polls `check` (10 ms, backing off to 200 ms) until it returns true.
 * Fails fast if the process exits; fails with the log tail on timeout.
 */
async function waitReady(check: () => boolean | Promise<boolean>, o: WaitOptions): Promise<void> {
  const started = Date.now();
  let interval = 10;
  for (;;) {
    if (!o.proc.alive) {
      // Let the log catch up with the exit.
      const info = o.proc.exitInfo;
      throw new BrokerStartError(
        `${o.what} exited before becoming ready (code ${info?.code ?? 'null'}, signal ${info?.signal ?? 'none'}). ` +
          `Log ${o.logFile}, tail:\n${fileTail(o.logFile)}`,
      );
    }
    let ok = false;
    try {
      ok = await check();
    } catch {
      ok = false;
    }
    if (ok) return;
    if (Date.now() - started > o.timeoutMs) {
      o.proc.signal('SIGKILL'); // never leave a half-started broker behind
      throw new BrokerStartError(`${o.what} not ready after ${o.timeoutMs} ms. Log ${o.logFile}, tail:\n${fileTail(o.logFile)}`);
    }
    await Promise.race([delay(interval), o.proc.exited]);
    interval = Math.min(interval * 2, 200);
  }
}

const ADDR_IN_USE = /address already in use|eaddrinuse|Error: Unable to listen|bind: Address/i;

/**
 * Runs `attempt` up to 3 times when the failure was a port already taken
 * (a free port can be grabbed between freePort() and the bind).
 */
async function withPortRetry<T>(attempt: () => Promise<T>): Promise<T> {
  let lastErr: unknown;
  for (let i = 0; i < 3; i++) {
    try {
      return await attempt();
    } catch (err) {
      lastErr = err;
      if (!(err instanceof BrokerStartError) || !ADDR_IN_USE.test(err.message)) throw err;
    }
  }
  throw lastErr;
}

async function removeDir(dir: string): Promise<void> {
  if (process.env.MESHGATE_KEEP_BROKER_DIRS === '1') return;
  await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Shared restart/stop/kill logic. `spawnOnce` starts the process and waits
 * until ready; it is called for the first start and every restart.
 */
class Lifecycle {
  proc: LoggedProcess | null = null;
  stopped = false;
  constructor(
    readonly what: string,
    readonly dir: string,
    readonly logFile: string,
    readonly spawnOnce: () => Promise<LoggedProcess>,
    readonly graceMs: number,
    /** pid to report/signal, when it differs from the spawned pid (RabbitMQ). */
    readonly brokerPid: () => number = () => this.proc?.child.pid ?? -1,
    readonly extraStop: () => Promise<void> = async () => undefined,
  ) {}

  async start(): Promise<void> {
    this.proc = await this.spawnOnce();
  }

  /**
   * Starts on ports `pickPorts` chooses, choosing again if another process
   * takes one first (withPortRetry); on failure runs `cleanup`, removes the
   * broker's directory and rethrows.
   */
  async startOnFreePorts(pickPorts: () => Promise<void>, cleanup: () => Promise<void> = async () => undefined): Promise<void> {
    try {
      await withPortRetry(async () => {
        await pickPorts();
        await this.start();
      });
    } catch (err) {
      await cleanup();
      await removeDir(this.dir);
      throw err;
    }
  }

  /** The BrokerHandle every broker shares, with the broker's own fields (`url`, `port`, ...) added. */
  handle<E extends { readonly url: string; readonly port: number }>(own: E): BrokerHandle & E {
    const life = this;
    const common: BrokerHandle = {
      url: own.url,
      port: own.port,
      get pid() {
        return life.brokerPid();
      },
      dir: this.dir,
      logFile: this.logFile,
      logTail: (lines?: number) => fileTail(this.logFile, lines),
      stop: () => life.stop(),
      kill: (signal?: NodeJS.Signals) => life.kill(signal),
      restart: () => life.restart(),
    };
    return Object.assign(common, own);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    const pid = this.brokerPid();
    if (!this.proc?.alive || pid <= 0) return;
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`${this.what}: restart() after stop(); start a new broker instead`);
    if (this.proc) await this.proc.terminate('SIGTERM', this.graceMs);
    // A stopped process may leave its port in TIME_WAIT; every broker here
    // listens with SO_REUSEADDR, so the same port binds again at once.
    this.proc = await this.spawnOnce();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      if (this.proc) await this.proc.terminate('SIGTERM', this.graceMs);
      await this.extraStop();
    } finally {
      await removeDir(this.dir);
    }
  }
}

/** Removes RABBITMQ_*, ERL_* and NATS_* that the caller's environment might leak in. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(RABBITMQ_|ERL_|NATS_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

// ---------------------------------------------------------------------------
// nats-server

/**
 * Starts nats-server on 127.0.0.1 with a monitor port, optionally as a
 * route-cluster member.
 * @example
 * const nats = await startNatsServer();
 * t.after(() => nats.stop());
 * const nc = await connect({ servers: nats.url });
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = findBinary('nats-server', 'nats-server');
  const dir = makeDir('nats');
  const logFile = path.join(dir, 'nats-server.log');
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  let port = 0;
  let monitorPort = 0;
  let clusterPort: number | undefined;

  const confFile = path.join(dir, 'nats-server.conf');
  if (opts.config) fs.writeFileSync(confFile, opts.config.join('\n') + '\n');

  const spawnOnce = async (): Promise<LoggedProcess> => {
    const args = [...(opts.config ? ['-c', confFile] : []), '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-n', `mg-${port}`];
    if (opts.cluster) {
      args.push('--cluster', `nats://127.0.0.1:${clusterPort}`, '--cluster_name', opts.cluster.name);
      if (opts.cluster.routes?.length) args.push('--routes', opts.cluster.routes.join(','));
    }
    if (opts.jetstream) args.push('-js', '-sd', path.join(dir, 'jetstream'));
    args.push(...(opts.args ?? []));
    const proc = new LoggedProcess(bin, args, { env: cleanEnv(), cwd: dir, logFile });
    await waitReady(async () => /Server is ready/.test(readFrom(logFile, proc.logOffset)) && (await tcpProbe(port)), {
      what: `nats-server on 127.0.0.1:${port}`,
      timeoutMs,
      proc,
      logFile,
    });
    return proc;
  };

  const life = new Lifecycle('nats-server', dir, logFile, spawnOnce, 10_000);
  await life.startOnFreePorts(async () => {
    port = await freePort();
    monitorPort = await freePort();
    if (opts.cluster) clusterPort = await freePort();
  });
  return life.handle({
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    clusterPort,
    clusterUrl: clusterPort === undefined ? undefined : `nats://127.0.0.1:${clusterPort}`,
  });
}

/** GET a nats-server monitoring endpoint (`varz`, `connz`, `subsz`, `routez`…) as JSON. */
export async function natsMonitor<T = Record<string, unknown>>(h: NatsServerHandle, endpoint: string): Promise<T> {
  const res = await fetch(`${h.monitorUrl}/${endpoint.replace(/^\//, '')}`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${h.monitorUrl}/${endpoint}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Waits until the server reports at least `count` routes (bounded). */
export async function waitForNatsRoutes(h: NatsServerHandle, count: number, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  let last = -1;
  let interval = 10;
  while (Date.now() - started < timeoutMs) {
    try {
      last = (await natsMonitor<{ num_routes: number }>(h, 'routez')).num_routes;
      if (last >= count) return;
    } catch {
      /* monitor not up yet */
    }
    await delay(interval);
    interval = Math.min(interval * 2, 200);
  }
  throw new BrokerStartError(`nats-server ${h.url}: ${last} routes after ${timeoutMs} ms, wanted ${count}. Log tail:\n${h.logTail()}`);
}

/**
 * A route cluster of `size` nats-servers (node i routes to node 0), returned
 * once every node sees all the others.
 */
export async function startNatsCluster(size = 2, name = `mg-${crypto.randomBytes(3).toString('hex')}`): Promise<NatsServerHandle[]> {
  const nodes: NatsServerHandle[] = [];
  try {
    nodes.push(await startNatsServer({ cluster: { name } }));
    const seed = nodes[0]!.clusterUrl!;
    for (let i = 1; i < size; i++) nodes.push(await startNatsServer({ cluster: { name, routes: [seed] } }));
    await Promise.all(nodes.map((n) => waitForNatsRoutes(n, size - 1)));
    return nodes;
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}

// ---------------------------------------------------------------------------
// mosquitto

/**
 * Starts mosquitto with a generated config: one listener on 127.0.0.1,
 * anonymous access, persistence in its directory (autosave every second
 * and on graceful stop, so restart() keeps QoS 1 sessions and queued
 * messages; after kill('SIGKILL') up to the last second may be lost).
 * mosquitto saves a session only while its client's latest CONNECT had
 * Clean Start 0 (MQTT 5) / Clean Session 0 (3.1.1): one still on its
 * Clean Start 1 connection is forgotten by restart(), whatever its
 * Session Expiry Interval.
 * @example
 * const mq = await startMosquitto();
 * t.after(() => mq.stop());
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const bin = findBinary('mosquitto', 'mosquitto');
  const dir = makeDir('mosquitto');
  const logFile = path.join(dir, 'mosquitto.log');
  const confFile = path.join(dir, 'mosquitto.conf');
  const aclFile = path.join(dir, 'mosquitto.acl');
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  let port = 0;
  if (opts.acl) fs.writeFileSync(aclFile, opts.acl.join('\n') + '\n');

  const writeConfig = () => {
    const lines = [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'persistence_file mosquitto.db',
      'autosave_interval 1',
      // Queue more than the default 1000 messages for offline QoS>0 sessions.
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'connection_messages true',
      'log_timestamp true',
      'log_timestamp_format %Y-%m-%dT%H:%M:%S',
      // As root mosquitto drops to user "mosquitto", which cannot write our dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      ...(opts.acl ? [`acl_file ${aclFile}`] : []),
      ...(opts.config ?? []),
    ];
    fs.writeFileSync(confFile, lines.join('\n') + '\n');
  };

  const spawnOnce = async (): Promise<LoggedProcess> => {
    const proc = new LoggedProcess(bin, ['-c', confFile], { env: cleanEnv(), cwd: dir, logFile });
    await waitReady(async () => /mosquitto version \S+ running/.test(readFrom(logFile, proc.logOffset)) && (await tcpProbe(port)), {
      what: `mosquitto on 127.0.0.1:${port}`,
      timeoutMs,
      proc,
      logFile,
    });
    return proc;
  };

  const life = new Lifecycle('mosquitto', dir, logFile, spawnOnce, 10_000);
  await life.startOnFreePorts(async () => {
    port = await freePort();
    writeConfig();
  });
  return life.handle({ url: `mqtt://127.0.0.1:${port}`, port });
}

// ---------------------------------------------------------------------------
// RabbitMQ

/** The pid of `parentPid`'s child whose comm is `comm`, or -1 (reads /proc). */
function findChildPid(parentPid: number, comm: string): number {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return -1;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === parentPid && name === comm) return Number(e);
    } catch {
      /* process vanished */
    }
  }
  return -1;
}

/**
 * Starts a private RabbitMQ node. Layout and isolation:
 * - node name `mg-<hex>@localhost`, HOME (Erlang cookie), mnesia, logs,
 *   config, enabled_plugins and the rabbitmq-env.conf override all live
 *   in its temp directory; nothing under /etc/rabbitmq or /var/lib is read
 *   or written.
 * - A private `epmd -port E -address 127.0.0.1` child, so instances never
 *   share (or leave behind) the system epmd on 4369 and a test process
 *   owns every process it starts. The Erlang distribution listener binds
 *   127.0.0.1 on a chosen free port.
 * - The AMQP listener binds 127.0.0.1 only; `loopback_users = none` lets
 *   guest/guest in (guest is loopback-only by default anyway).
 * - Readiness: "Server startup complete" in the log, then a full AMQP
 *   handshake through channel.open as guest.
 *
 * Timing (2 cores): ~4-8 s to start, ~3 s to stop gracefully; budget 90 s.
 * Run through `/usr/lib/rabbitmq/bin/rabbitmq-server` (not the Debian
 * /usr/sbin wrapper, which `su`s to the rabbitmq user and cds to
 * /var/lib/rabbitmq). That script traps SIGTERM and stops beam gracefully.
 * `pid` is the beam.smp process (use it for CPU measurements).
 * @example
 * const rmq = await startRabbitMQ();
 * t.after(() => rmq.stop());
 */
export async function startRabbitMQ(opts: RabbitMQOptions = {}): Promise<RabbitMQHandle> {
  const bin = findBinary('rabbitmq-server', 'rabbitmq-server', ['/usr/lib/rabbitmq/bin/rabbitmq-server']);
  const epmdBin = findBinary('epmd', 'erlang-base', ['/usr/bin/epmd']);
  const dir = makeDir('rabbitmq');
  const logFile = path.join(dir, 'rabbitmq.log');
  const epmdLog = path.join(dir, 'epmd.log');
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  const nodeName = `mg-${crypto.randomBytes(4).toString('hex')}@localhost`;
  let port = 0;
  let distPort = 0;
  let epmdPort = 0;
  let managementPort = 0;
  let epmd: LoggedProcess | null = null;
  let beamPid = -1;

  const confFile = path.join(dir, 'rabbitmq.conf');
  const envConf = path.join(dir, 'rabbitmq-env.conf');
  const pluginsFile = path.join(dir, 'enabled_plugins');

  const writeConfig = () => {
    const lines = [
      `listeners.tcp.1 = 127.0.0.1:${port}`,
      'loopback_users = none',
      'log.console = true',
      'log.console.level = info',
      'log.file = false',
      // Tests run on small machines: do not block publishers on a low disk.
      'disk_free_limit.absolute = 1MB',
      ...(opts.management ? [`management.tcp.port = ${managementPort}`, 'management.tcp.ip = 127.0.0.1'] : []),
      ...(opts.config ?? []),
    ];
    fs.writeFileSync(confFile, lines.join('\n') + '\n');
    // Overrides /etc/rabbitmq/rabbitmq-env.conf, which could set NODENAME etc.
    fs.writeFileSync(envConf, '# meshgate test instance: intentionally empty\n');
    fs.writeFileSync(pluginsFile, opts.management ? '[rabbitmq_management].\n' : '[].\n');
  };

  const env = () =>
    cleanEnv({
      HOME: dir,
      RABBITMQ_CONF_ENV_FILE: envConf,
      RABBITMQ_NODENAME: nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONFIG_FILE: confFile,
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
      RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: pluginsFile,
      RABBITMQ_PLUGINS_EXPAND_DIR: path.join(dir, 'plugins-expand'),
      RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
      // Distribution listener on loopback only.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_PORT: String(epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
    });

  const ensureEpmd = async () => {
    if (epmd?.alive) return;
    const proc = new LoggedProcess(epmdBin, ['-port', String(epmdPort), '-address', '127.0.0.1'], {
      env: cleanEnv(),
      cwd: dir,
      logFile: epmdLog,
    });
    await waitReady(() => tcpProbe(epmdPort), { what: `epmd on 127.0.0.1:${epmdPort}`, timeoutMs: 10_000, proc, logFile: epmdLog });
    epmd = proc;
  };

  const spawnOnce = async (): Promise<LoggedProcess> => {
    await ensureEpmd();
    beamPid = -1;
    const proc = new LoggedProcess(bin, [], { env: env(), cwd: dir, logFile });
    const shellPid = proc.child.pid ?? -1;
    try {
      await waitReady(
        async () => {
          // The script forks a subshell that execs erl -> erlexec -> beam.smp.
          if (beamPid < 0) beamPid = findChildPid(shellPid, 'beam.smp');
          if (beamPid < 0) return false;
          if (!/Server startup complete/.test(readFrom(logFile, proc.logOffset))) return false;
          if (!(await tcpProbe(port))) return false;
          const c = await AmqpMiniConnection.open({ port, stepTimeoutMs: 5000 });
          await c.close();
          return true;
        },
        { what: `RabbitMQ ${nodeName} on 127.0.0.1:${port}`, timeoutMs, proc, logFile },
      );
    } catch (err) {
      // waitReady killed the script; beam is its child and must go too.
      if (beamPid > 0) {
        try {
          process.kill(beamPid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      throw err;
    }
    return proc;
  };

  const life = new Lifecycle(
    'rabbitmq',
    dir,
    logFile,
    spawnOnce,
    30_000,
    // kill() signals beam itself: the script only relays SIGTERM/SIGINT.
    () => beamPid,
    async () => {
      if (epmd) await epmd.terminate('SIGTERM', 5000);
    },
  );
  await life.startOnFreePorts(
    async () => {
      if (epmd) await (epmd as LoggedProcess).terminate('SIGKILL', 5000);
      epmd = null;
      port = await freePort();
      distPort = await freePort();
      epmdPort = await freePort();
      if (opts.management) managementPort = await freePort();
      writeConfig();
    },
    async () => {
      if (life.proc) await life.proc.terminate('SIGKILL', 5000);
      if (epmd) await (epmd as LoggedProcess).terminate('SIGKILL', 5000);
    },
  );
  return life.handle({
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    port,
    nodeName,
    distPort,
    epmdPort,
    managementUrl: opts.management ? `http://127.0.0.1:${managementPort}` : undefined,
    ctlEnv: cleanEnv({ HOME: dir, ERL_EPMD_PORT: String(epmdPort), RABBITMQ_CONF_ENV_FILE: envConf }),
  });
}

// ---------------------------------------------------------------------------
// Introspection

/** A listening TCP socket of a process, from /proc/net/tcp{,6}. */
export interface ListeningSocket {
  readonly address: string;
  readonly port: number;
  readonly loopback: boolean;
}

function decodeProcAddress(hex: string): { address: string; loopback: boolean } {
  if (hex.length === 8) {
    // IPv4, little-endian 32-bit word.
    const b = Buffer.from(hex, 'hex').reverse();
    return { address: [...b].join('.'), loopback: b[0] === 127 };
  }
  // IPv6: four little-endian 32-bit words.
  const words = hex.match(/.{8}/g) ?? [];
  const b = Buffer.concat(words.map((w) => Buffer.from(w, 'hex').reverse()));
  const groups = (b.toString('hex').match(/.{4}/g) ?? []).join(':');
  const isV6Loopback = b.subarray(0, 15).every((x) => x === 0) && b[15] === 1;
  const isMappedV4Loopback = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff && b[12] === 127;
  return { address: groups, loopback: isV6Loopback || isMappedV4Loopback };
}

/**
 * Listening TCP sockets owned by `pid` (Linux only). Lets a test assert
 * that a broker binds loopback only.
 */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* fd closed meanwhile */
    }
  }
  const out: ListeningSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' /* TCP_LISTEN */ || !inodes.has(f[9]!)) continue;
      const [addrHex, portHex] = f[1]!.split(':');
      out.push({ ...decodeProcAddress(addrHex!), port: parseInt(portHex!, 16) });
    }
  }
  return out;
}
