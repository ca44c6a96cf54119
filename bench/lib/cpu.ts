import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Kernel clock ticks per second (`getconf CLK_TCK`, 100 on Linux/x86). */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * CPU seconds (user + system) a live process has used so far, from /proc/<pid>/stat (utime + stime).
 * Returns undefined when the process is gone. Take the difference of two readings for a window.
 */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14 of stat(5)
  const stime = Number(fields[12]); // field 15
  return (utime + stime) / clkTck();
}

/** CPU seconds per pid for a set of pids (missing processes are left out). */
export function cpuSecondsByPid(pids: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const s = cpuSeconds(pid);
    if (s !== undefined) out.set(pid, s);
  }
  return out;
}

/** CPU seconds and command name of every process on the host (to explain the "other" CPU of a window). */
export function allProcessCpu(): Map<number, { comm: string; seconds: number }> {
  const out = new Map<number, { comm: string; seconds: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const seconds = cpuSeconds(Number(entry));
    if (seconds === undefined) continue;
    try {
      out.set(Number(entry), { comm: readFileSync(`/proc/${entry}/comm`, 'utf8').trim(), seconds });
    } catch {
      // the process exited while we were scanning
    }
  }
  return out;
}

/** Pids of the processes whose /proc/<pid>/comm is `comm` (e.g. `beam.smp` for RabbitMQ). */
export function pidsByComm(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // the process exited while we were scanning
    }
  }
  return pids;
}

/**
 * CPU used in a window by processes sampled at both ends: a pid that appeared during the window counts in full,
 * a pid that disappeared during the window is lost (its last minutes are not visible to us any more).
 */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}

/** Busy CPU seconds of the whole machine so far (all cores: user+nice+system+irq+softirq+steal from /proc/stat). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / clkTck();
}
