/**
 * CPU time of processes, for "server CPU µs per delivered event".
 *
 * Other processes: /proc/PID/stat fields 14 (utime) and 15 (stime), in
 * clock ticks (`getconf CLK_TCK`, 100 on every Linux we run). One tick is
 * 10 ms, so a delta is only as good as ±10 ms per reading: a measured
 * phase must burn well over a second of server CPU for a 1% figure. Keep
 * throughput phases 1-5 s long.
 *
 * This process: process.cpuUsage(), microsecond resolution.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** CPU time in microseconds. */
export interface CpuTime {
  readonly userUs: number;
  readonly systemUs: number;
  readonly totalUs: number;
}

let clkTck: number | undefined;

/** Clock ticks per second for /proc times, read once with `getconf CLK_TCK`. @default 100 when getconf fails */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
      clkTck = Number.isFinite(v) && v > 0 ? v : 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Resolution of {@link processCpu} in microseconds (10_000 with CLK_TCK 100). */
export function procCpuResolutionUs(): number {
  return 1e6 / clockTicksPerSecond();
}

/**
 * CPU time consumed so far by `pid` (all its threads; not its children).
 * Throws if the process does not exist.
 * @example
 * const before = processCpu(server.pid);
 * await phase();
 * const usedUs = cpuDelta(before, processCpu(server.pid)).totalUs;
 */
export function processCpu(pid: number): CpuTime {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const ticksToUs = 1e6 / clockTicksPerSecond();
  const userUs = Number(rest[14 - 3]) * ticksToUs;
  const systemUs = Number(rest[15 - 3]) * ticksToUs;
  return { userUs, systemUs, totalUs: userUs + systemUs };
}

/** CPU time of the current process (µs resolution). */
export function selfCpu(): CpuTime {
  const u = process.cpuUsage();
  return { userUs: u.user, systemUs: u.system, totalUs: u.user + u.system };
}

/** b - a */
export function cpuDelta(a: CpuTime, b: CpuTime): CpuTime {
  return { userUs: b.userUs - a.userUs, systemUs: b.systemUs - a.systemUs, totalUs: b.totalUs - a.totalUs };
}

/** Sum of {@link processCpu} over several pids (e.g. both nodes of a cluster). */
export function processesCpu(pids: readonly number[]): CpuTime {
  let userUs = 0;
  let systemUs = 0;
  for (const pid of pids) {
    const c = processCpu(pid);
    userUs += c.userUs;
    systemUs += c.systemUs;
  }
  return { userUs, systemUs, totalUs: userUs + systemUs };
}
