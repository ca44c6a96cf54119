import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureServicesBuilt } from '../e2e/distributed/support/build';

/**
 * A small run of the chaos test (scripts/chaos/chaos.ts; `npm run test:chaos` runs the full one): the order, payment
 * and shipping services twice each (competing consumers), as processes, 60 orders, each process SIGKILLed once, two
 * graceful restarts (SIGTERM, as in a rolling deploy), one broker drop and one database drop. It builds the three services (unless this jest run already did) and the runner first.
 * Needs PostgreSQL, RabbitMQ and `rabbitmqctl`: without them the runner fails, and so does this spec (never skips).
 */
const ROOT = join(__dirname, '..', '..');
const RUNNER = join(ROOT, 'dist', 'scripts', 'scripts', 'chaos', 'chaos.js');
const ARGS = [
  '--orders',
  '60',
  '--participant-replicas',
  '2',
  '--kills',
  '6',
  '--restarts',
  '2',
  '--broker-drops',
  '1',
  '--db-drops',
  '1',
  '--duration',
  '20',
  '--settle-timeout',
  '60',
  // Its own databases and vhost, and free ports: `npm run test:chaos` may run beside `npm test`.
  '--tag',
  'chaos_spec',
  '--base-port',
  '0',
];
const SUMMARY =
  /^chaos: 60 sagas, 6 kills, 2 graceful restarts, 1 broker drops, 1 db drops, 0 lost, 0 duplicated, 0 invariant violations$/m;

const run = promisify(execFile);

/** Runs the runner in its own process group, so that a timeout can stop it and the services it started. */
function runChaos(timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNNER, ...ARGS], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += `\n(timed out after ${timeoutMs} ms: killing the chaos run)\n`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('chaos: 2 replicas each of order, payment and shipping under SIGKILL, SIGTERM, broker and database drops', () => {
  beforeAll(async () => {
    // The services as the distributed end-to-end specs build them (once per jest run, under a lock), then the runner.
    await ensureServicesBuilt();
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', join('scripts', 'chaos', 'tsconfig.json')], { cwd: ROOT });
  }, 240_000);

  it('loses nothing, duplicates nothing and keeps every invariant (60 orders, 10 faults)', async () => {
    const { code, output } = await runChaos(150_000);
    // The whole output on failure: the violations, the sagas' histories and where the service logs are.
    expect(output).toMatch(SUMMARY);
    expect(code).toBe(0);
  }, 170_000);
});
