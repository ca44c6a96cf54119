import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(__dirname, '..', '..', '..', '..');

/** The services the distributed specs start as processes. */
export const SERVICE_APPS = ['order', 'payment', 'shipping'] as const;
export type ServiceApp = (typeof SERVICE_APPS)[number];

/** Where `nest build <app>` puts an app's entry point (rootDir is the repository root). */
export const mainJs = (app: ServiceApp): string =>
  join(ROOT, 'dist', 'apps', app, 'apps', app, 'src', 'main.js');

const DIST = join(ROOT, 'dist');
/** Written after a successful build: when, and by which test run. */
const STAMP = join(DIST, '.e2e-services-build.json');
/** Held while building, so that spec files (and concurrent runs) never build into dist/ at the same time. */
const LOCK = join(DIST, '.e2e-services-build.lock');
/** What the compiled services are made of. */
const SOURCE_DIRS = ['apps', 'libs'];
const SOURCE_FILES = ['tsconfig.json', 'nest-cli.json', 'package-lock.json'];

interface Stamp {
  runId: number;
  /** When the build that wrote this stamp started (a source changed after that makes it stale). */
  builtAt: number;
}

/**
 * The jest run this code belongs to: the jest process itself with `--runInBand`, its parent in a worker
 * process. Spec files of one run share it, so the services are built at most once per run.
 */
function currentRunId(): number {
  return process.send ? process.ppid : process.pid;
}

/**
 * Builds the order, payment and shipping services (`nest build <app>`) unless dist/ already holds a build
 * newer than every source file, or one made earlier in this jest run. A lock file in dist/ makes concurrent
 * callers wait for one build. Throws with the compiler's output when the build fails.
 */
export async function ensureServicesBuilt(): Promise<void> {
  mkdirSync(DIST, { recursive: true });
  await withLock(async () => {
    const stamp = readStamp();
    if (stamp && isFresh(stamp)) {
      // This run uses this build: its later spec files must too, even if a source changes meanwhile.
      if (stamp.runId !== currentRunId()) writeStamp({ ...stamp, runId: currentRunId() });
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const builtAt = Date.now();
      try {
        // Two at a time: tsc is CPU-bound and the machines running this have few cores.
        await runAll(
          SERVICE_APPS.map((app) => () => run(join(ROOT, 'node_modules', '.bin', 'nest'), ['build', app])),
          2,
        );
      } catch (error) {
        // A source saved while tsc read the tree (someone editing meanwhile) can fail a build: once more.
        if (attempt < 2 && newestSourceMtime() >= builtAt) continue;
        throw error;
      }
      writeStamp({ runId: currentRunId(), builtAt });
      return;
    }
  });
}

function writeStamp(stamp: Stamp): void {
  writeFileSync(STAMP, JSON.stringify(stamp));
}

function isFresh(stamp: Stamp): boolean {
  if (!SERVICE_APPS.every((app) => existsSync(mainJs(app)))) return false;
  return stamp.runId === currentRunId() || newestSourceMtime() < stamp.builtAt;
}

function readStamp(): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

function newestSourceMtime(): number {
  let newest = 0;
  const visit = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== 'node_modules') visit(join(path, entry));
    } else if (path.endsWith('.json') || (path.endsWith('.ts') && !path.endsWith('.spec.ts'))) {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) visit(join(ROOT, dir));
  for (const file of SOURCE_FILES) if (existsSync(join(ROOT, file))) visit(join(ROOT, file));
  return newest;
}

async function withLock(fn: () => Promise<void>, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!lockHolderAlive()) {
      rmSync(LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${LOCK} is still held after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    await fn();
  } finally {
    rmSync(LOCK, { force: true });
  }
}

/** False when the lock's owner is gone (a run that was killed while building): the lock is stale. */
function lockHolderAlive(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(LOCK, 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function runAll(tasks: (() => Promise<void>)[], concurrency: number): Promise<void> {
  const queue = [...tasks];
  const worker = async () => {
    for (let task = queue.shift(); task; task = queue.shift()) {
      try {
        await task();
      } catch (error) {
        queue.length = 0; // start nothing more
        throw error;
      }
    }
  };
  // Every task ends before this returns (a retry must not overlap a build still running), then the first error.
  const results = await Promise.allSettled(Array.from({ length: concurrency }, worker));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else
        reject(new Error(`${[command, ...args].join(' ')} failed (${signal ?? code}):\n${output.join('')}`));
    });
  });
}
