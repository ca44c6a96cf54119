/**
 * The chaos test (issue "Failure handling and recovery", item 6): the distributed shop — two replicas of the
 * order service (competing consumers on the same queues, one database) and of payment and of shipping
 * (`--participant-replicas`) — takes a few hundred orders over HTTP while its processes are SIGKILLed and
 * restarted (and some gracefully restarted, `--restarts`), the broker drops every connection and PostgreSQL
 * terminates every session. Once the faults stop and every saga has finished, the end state is
 * checked FROM THE DATABASES: nothing lost, nothing duplicated, every saga terminal and as expected, and the
 * orders, payments, shipments and credit consistent with it.
 *
 *   npm run test:chaos                        # builds the services and this script, then runs it (500 orders)
 *   node dist/scripts/scripts/chaos/chaos.js --orders 60 --kills 4 --broker-drops 1 --db-drops 1 --duration 20
 *
 * Flags: see options.ts (`--help`). Environment: PG_ADMIN_URL, AMQP_URL. Everything the run owns is named after
 * `--tag` (default `chaos`): databases `<tag>_order`, `<tag>_payment`, `<tag>_shipping` (re-created on every run and
 * kept afterwards for inspection), RabbitMQ virtual host and queue prefix `<tag>` (deleted at the end). Needs
 * `rabbitmqctl` on the PATH (the broker drops). The last line is the summary; the exit code is non-zero on any
 * violation.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { OrderDriver, waves } from './driver';
import { FaultInjector, scheduleFaults } from './faults';
import { GuessTally } from './guesses';
import { Broker, Postgres, redact } from './infra';
import { parseOptions, UsageError, type ChaosOptions } from './options';
import { planOrders, Random } from './plan';
import { ServiceProcess, sleep } from './services';
import {
  durations,
  formatCounts,
  history,
  type RunDatabases,
  transientFailures,
  unsentOutbox,
  type Verdict,
  type Violation,
  verify,
  waitTerminal,
} from './verify';

const APPS = ['order', 'payment', 'shipping'] as const;
/** Where `nest build <app>` puts an app's entry point (rootDir is the repository root). */
const mainJs = (app: string) => join(process.cwd(), 'dist', 'apps', app, 'apps', app, 'src', 'main.js');
const QUIET_TIMEOUT_MS = 60_000;
const SHOWN_VIOLATIONS = 5;

const started = Date.now();
function log(line: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}

interface Outcome {
  verdict: Verdict;
  counts: { kills: number; restarts: number; brokerDrops: number; dbDrops: number };
}

let services: ServiceProcess[] = [];

async function run(options: ChaosOptions): Promise<Outcome> {
  for (const app of APPS) {
    if (!existsSync(mainJs(app))) {
      throw new Error(`${mainJs(app)} is missing: build first (npm run test:chaos builds everything)`);
    }
  }
  const random = new Random(options.seed);
  const runId = `${options.tag}-${Date.now().toString(36)}`;
  const logDir = mkdtempSync(join(tmpdir(), `${options.tag}-logs-`));
  const { tag } = options;
  log(
    `chaos run ${runId}: ${options.orders} orders over ${options.durationMs / 1000} s, ${options.concurrency} at a time; ` +
      `${options.participantReplicas} replica(s) of payment and of shipping; ` +
      `${options.kills} kills, ${options.restarts} graceful restarts, ${options.brokerDrops} broker drops, ${options.dbDrops} db drops; seed ${options.seed}`,
  );
  log(`service logs: ${logDir}`);

  const pg = await Postgres.connect(options.pgAdminUrl);
  const broker = new Broker(options.amqpUrl, tag);
  const databases = { order: `${tag}_order`, payment: `${tag}_payment`, shipping: `${tag}_shipping` };
  let dbs: RunDatabases | undefined;
  try {
    await pg.lock(tag, log);
    const urls = await pg.freshDatabases(Object.values(databases));
    await broker.freshVhost();
    log(
      `fresh databases ${Object.values(databases).join(', ')}; fresh vhost '${tag}' at ${redact(broker.vhostUrl)}`,
    );

    const env = (service: string, database: string) => ({
      SERVICE_NAME: service,
      DATABASE_URL: urls[database],
      AMQP_URL: broker.vhostUrl,
      SAGA_QUEUE_PREFIX: tag,
    });
    const replicas = (app: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ id: `${app}-${i + 1}`, app }));
    const specs = [
      ...replicas('order', 2),
      ...replicas('payment', options.participantReplicas),
      ...replicas('shipping', options.participantReplicas),
    ];
    const ports = await choosePorts(options.basePort, specs.length);
    services = specs.map(
      (s, i) =>
        new ServiceProcess(
          {
            id: s.id,
            mainJs: mainJs(s.app),
            port: ports[i],
            env: env(s.app, databases[s.app as keyof typeof databases]),
          },
          logDir,
          options.verbose,
          log,
        ),
    );
    // The first replica of each app migrates its database first: two processes migrating one fresh database at
    // once would race.
    const first = services.filter((s) => s.id.endsWith('-1'));
    for (const s of first) s.start();
    await Promise.all(first.map((s) => s.waitUp(120_000)));
    for (const s of services) if (!first.includes(s)) s.start();
    await Promise.all(services.map((s) => s.waitUp(120_000)));
    log(`services up: ${services.map((s) => `${s.id} :${s.spec.port} (pid ${s.pid})`).join(', ')}`);

    const plan = planOrders(options.orders, random, runId);
    const faults = scheduleFaults(
      random,
      waves(options.orders, options.concurrency, options.durationMs),
      options,
      services.map((s) => s.id),
    );
    const injector = new FaultInjector(services, broker, pg, Object.values(databases), random, log);
    const driver = new OrderDriver(services.slice(0, 2), random, {
      concurrency: options.concurrency,
      durationMs: options.durationMs,
      resubmitRate: options.resubmitRate,
      giveUpMs: 120_000,
      requestTimeoutMs: 10_000,
    });
    const guesses = new GuessTally(services.filter((s) => s.id.startsWith('order')));
    guesses.start();
    const progress = setInterval(() => log(`orders: ${driver.progress}`), 5_000);
    const start = Date.now();
    let placements;
    try {
      [placements] = await Promise.all([driver.run(plan), injector.run(faults, start)]);
    } finally {
      clearInterval(progress);
    }
    log(`driver done: ${driver.progress}`);
    const { kills, restarts, brokerDrops, dbDrops, sessionsTerminated } = injector.counts;
    log(
      `faults done: ${kills} kills, ${restarts} graceful restarts, ${brokerDrops} broker drops, ` +
        `${dbDrops} db drops (${sessionsTerminated} sessions)`,
    );

    await Promise.all(services.map((s) => s.waitUp(120_000)));
    log(
      `all services up again: ${services.map((s) => `${s.id} (pid ${s.pid}, ${s.starts} starts)`).join(', ')}`,
    );

    dbs = {
      order: await pg.open(databases.order),
      payment: await pg.open(databases.payment),
      shipping: await pg.open(databases.shipping),
    };
    const settled = await waitTerminal(dbs.order, options.settleTimeoutMs, log);
    const quietProblems = settled ? await waitQuiet(dbs, broker) : [];
    await guesses.stop();
    log(`coordinator guesses (replies applied ahead of reading their sagas): ${guesses.summary()}`);
    const verdict = await verify(dbs, placements);
    verdict.violations.push(...quietProblems.map((message) => ({ message })));
    if (!settled) verdict.violations.push({ message: 'not every saga finished within the settle timeout' });

    const deadQueues = (await broker.queueDepths()).filter((q) => q.name.endsWith('.dlq') && q.messages > 0);
    if (deadQueues.length > 0) {
      for (const letter of await broker.deadLetters(deadQueues.map((q) => q.name))) {
        verdict.violations.push({
          message: `dead-lettered in ${letter.queue}: ${letter.reason}: ${letter.body}`,
        });
      }
    }
    for (const unclean of injector.uncleanStops) {
      verdict.violations.push({ message: `graceful restart not clean: ${unclean}` });
    }
    for (const s of services) {
      for (const exit of s.unexpectedExits) {
        const message =
          `${exit.service} (pid ${exit.pid}) exited on its own ${exit.wasUp ? 'while up' : 'while starting'} ` +
          `(code ${exit.code}, signal ${exit.signal}); its last lines:\n      ${exit.tail.slice(-15).join('\n      ')}`;
        // A process that fails to start during an outage is restarted, as an orchestrator would; a crash is a bug.
        if (exit.wasUp) verdict.violations.push({ message });
        else log(`note: ${message}`);
      }
    }
    await report(verdict, dbs.order);
    return { verdict, counts: injector.counts };
  } finally {
    for (const client of Object.values(dbs ?? {}) as Client[]) await client.end().catch(() => undefined);
    const stopped = await Promise.all(services.map(async (s) => ({ s, exit: await s.stop() })));
    for (const { s, exit } of stopped) {
      if (exit.forced || (exit.code !== 0 && exit.code !== null)) {
        log(
          `warning: ${s.id} did not stop cleanly on SIGTERM (code ${exit.code}, signal ${exit.signal}, forced ${exit.forced})`,
        );
      }
      await s.closeLog();
    }
    await broker
      .deleteVhost()
      .catch((error: unknown) => log(`could not delete vhost '${tag}': ${String(error)}`));
    await pg.close();
    log(`stopped the services, deleted vhost '${tag}' (its queues); kept the databases for inspection`);
  }
}

/**
 * `count` consecutive ports from `base`, each checked to be free (a service left over from another run would
 * answer in place of ours); `base` 0: any free ports.
 */
async function choosePorts(base: number, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const wanted = base === 0 ? 0 : base + i;
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', (error) =>
        reject(new Error(`port ${wanted} is in use (${String(error)}): pass --base-port`)),
      );
      server.listen(wanted, () => {
        const { port: bound } = server.address() as AddressInfo;
        server.close(() => resolve(bound));
      });
    });
    ports.push(port);
  }
  return ports;
}

/**
 * Once every saga is finished, waits for the outboxes to drain and the work queues to empty (late duplicates still
 * in flight would otherwise escape the checks). A row claimed by a relay's sweep in a process killed since stays
 * leased for 30 s (`relay.leaseMs`) before another sweep takes it: hence the generous timeout. Returns what is
 * still not quiet after QUIET_TIMEOUT_MS.
 */
async function waitQuiet(dbs: RunDatabases, broker: Broker): Promise<string[]> {
  const start = Date.now();
  let lastReport = start;
  for (;;) {
    const unsent = await unsentOutbox(dbs);
    const busy = (await broker.queueDepths()).filter((q) => !q.name.endsWith('.dlq') && q.messages > 0);
    const problems = [
      ...Object.entries(unsent)
        .filter(([, n]) => n.unsent > 0)
        .map(([db, n]) => `${n.unsent} outbox row(s) of ${db} unsent (${n.leased} leased by a sweep)`),
      ...busy.map((q) => `${q.messages} message(s) left in ${q.name}`),
    ];
    const elapsed = ((Date.now() - start) / 1000).toFixed(0);
    if (problems.length === 0) {
      log(`quiet after ${elapsed} s: every outbox sent, every work queue empty`);
      return [];
    }
    if (Date.now() - start > QUIET_TIMEOUT_MS) {
      return problems.map((p) => `${p} ${elapsed} s after the sagas finished`);
    }
    if (Date.now() - lastReport >= 5_000) {
      log(`not quiet yet (${elapsed} s): ${problems.join('; ')}`);
      lastReport = Date.now();
    }
    await sleep(2_000);
  }
}

async function report(verdict: Verdict, order: Client): Promise<void> {
  log(`sagas: ${formatCounts(verdict.statuses)}`);
  const d = await durations(order);
  log(
    `saga durations: p50 ${d.p50} ms, p95 ${d.p95} ms, p99 ${d.p99} ms, max ${d.max} ms ` +
      `(slowest: ${d.slowest.map((s) => `${s.id} ${s.ms} ms`).join(', ')})`,
  );
  const transient = await transientFailures(order);
  if (transient.n > 0) {
    log(`transient step failures (retried): ${transient.n}; e.g.`);
    for (const example of transient.examples) console.log(`      ${example}`);
  }
  if (d.slowest.length > 0) {
    log(`the slowest saga's history:`);
    for (const line of await history(order, d.slowest[0].id)) console.log(`      ${line}`);
  }
  if (verdict.violations.length === 0) return;
  log(`${verdict.violations.length} violation(s); the first ones:`);
  const shown = new Set<string>();
  let listed = 0;
  for (const v of verdict.violations) {
    if (listed >= SHOWN_VIOLATIONS * 3) break;
    listed++;
    console.log(`  - ${v.message}${v.sagaId ? ` [saga ${v.sagaId}]` : ''}`);
    if (v.sagaId && !shown.has(v.sagaId) && shown.size < SHOWN_VIOLATIONS) {
      shown.add(v.sagaId);
      for (const line of await history(order, v.sagaId)) console.log(`      ${line}`);
    }
  }
  const more = verdict.violations.length - listed;
  if (more > 0) console.log(`  … and ${more} more`);
  const bySaga = new Set(verdict.violations.map((v: Violation) => v.sagaId).filter(Boolean));
  if (bySaga.size > 0) log(`violating sagas: ${bySaga.size}`);
}

function printSummary({ verdict, counts }: Outcome): boolean {
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  log(`run time ${seconds} s`);
  console.log(
    `chaos: ${verdict.sagas} sagas, ${counts.kills} kills, ${counts.restarts} graceful restarts, ` +
      `${counts.brokerDrops} broker drops, ` +
      `${counts.dbDrops} db drops, ${verdict.lost} lost, ${verdict.duplicated} duplicated, ` +
      `${verdict.violations.length} invariant violations`,
  );
  return verdict.lost === 0 && verdict.duplicated === 0 && verdict.violations.length === 0;
}

let options: ChaosOptions;
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(error instanceof UsageError ? 2 : 1);
}
// Interrupted: stop the services rather than leave them running.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the services`);
    void Promise.all(services.map((s) => s.stop(5_000))).finally(() => process.exit(130));
  });
}
run(options).then(
  (outcome) => process.exit(printSummary(outcome) ? 0 : 1),
  (error: unknown) => {
    console.error(
      `chaos: FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
