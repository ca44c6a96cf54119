import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One bench at a time per machine: runs share database names, queues and the CPU they measure. */
const LOCK_FILE = join(tmpdir(), 'nestjs-saga-bench.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the machine-wide bench lock, waiting (up to `maxWaitMs`) while another bench process holds it; a lock left
 * by a process that is gone is taken over. Returns the function that releases it (also released at exit).
 */
export async function acquireBenchLock(maxWaitMs = 20 * 60_000): Promise<() => void> {
  const t0 = Date.now();
  let reported = false;
  for (;;) {
    try {
      const fd = openSync(LOCK_FILE, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = (): void => {
        try {
          if (readFileSync(LOCK_FILE, 'utf8') === String(process.pid)) rmSync(LOCK_FILE, { force: true });
        } catch {
          // already gone
        }
      };
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(LOCK_FILE, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    if (!Number.isInteger(holder) || !alive(holder)) {
      rmSync(LOCK_FILE, { force: true });
      continue;
    }
    if (Date.now() - t0 > maxWaitMs) throw new Error(`another bench (pid ${holder}) still runs: giving up`);
    if (!reported) {
      process.stderr.write(
        `another bench (pid ${holder}) is running (${LOCK_FILE}): waiting for it to finish\n`,
      );
      reported = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
