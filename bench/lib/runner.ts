import { deleteQueues, purgeQueues } from './broker';
import type { ServiceStats } from './control';
import { allProcessCpu, cpuDelta, cpuSecondsByPid, machineBusySeconds, pidsByComm } from './cpu';
import { percentile, type LoadResult } from './load';
import { backendPids, checkpoint, readDbStats, readWalStats, type DbStats, type WalStats } from './pg-stats';
import { spawnService, type ServiceHandle, type StopResult } from './process';

export interface ServiceSpec {
  name: string;
  /** Compiled entry file (absolute path); it must call `serveControl` from `bench/lib/control`. */
  entryJs: string;
  env?: Record<string, string>;
}

/** One way of running the saga, e.g. the hand-written baseline or the library over RabbitMQ. */
export interface VariantSpec {
  name: string;
  /** Databases the variant's services write to: their pg_stat_database counters give transactions per saga. */
  databases: string[];
  /** Queues purged before the run and deleted after it (durable, no arguments). */
  queues: string[];
  /** Started in this order (each waits for READY), stopped in reverse order. */
  services: ServiceSpec[];
  /** The service that embeds the load generator (handles LOAD/GO). */
  driver: string;
  /** Before the services start (e.g. create fresh databases, delete the broker objects of an earlier run). */
  setup?: () => Promise<void>;
  /** Once the services are ready, before the first measurement (e.g. preload rows into their tables). */
  prepare?: (driver: ServiceHandle) => Promise<void>;
  /** After the services stopped, even on failure (e.g. delete queues and exchanges, remove files). */
  teardown?: () => Promise<void>;
}

export interface BenchOptions {
  concurrencies: number[];
  count: number;
  warmup: number;
  amqpUrl: string;
  /** Quiet time after the warm-up and after the window, so trailing acks and commits land on the right side. */
  settleMs: number;
  /** Before each concurrency, wait up to this long for the rest of the machine to be idle (0: do not wait). */
  quietWaitSeconds: number;
}

export interface ResultRow extends LoadResult {
  variant: string;
  /** CPU seconds in the window: each service, `postgres` (backends of the variant's databases), `rabbitmq`, `machine`. */
  cpuSeconds: Record<string, number>;
  /**
   * Committed transactions per saga as PostgreSQL counted them: pg_stat_database.xact_commit deltas, minus the
   * runner's own flush queries and minus one startup transaction per connection opened in the window.
   * NaN (null in JSON) for a variant without PostgreSQL databases (SQLite): see the in-process count.
   */
  transactionsPerSaga: number;
  /**
   * Commits per saga as the services counted them in-process (a cross-check of the above); NaN (null in JSON) when
   * a service did not count them (the library's services on PostgreSQL count only with BENCH_SQL_PROFILE=1).
   */
  transactionsPerSagaInProcess: number;
  rollbacksPerSaga: number;
  /** Broker messages published (and confirmed) per saga, counted in-process by the services. */
  messagesPerSaga: number;
  consumedPerSaga: number;
  /**
   * Statements per saga by service and kind (`order: INSERT saga_outbox`), with their wall time per saga in ms
   * (as TypeORM times the driver call: round trip and waiting included), for services that count them.
   */
  statementsPerSaga: Record<string, { count: number; ms: number }>;
  /** Event-loop utilisation of each service in the window (0..1; near 1: that process is the bottleneck). */
  eventLoopUtilization: Record<string, number>;
  /**
   * WAL per saga (pg_stat_wal deltas: records, full-page images, bytes) — the whole cluster's, so the other
   * variants' idle services are in it too (their background work is small). Absent without PostgreSQL.
   */
  walPerSaga?: WalStats;
  /** Raw counters of the window. */
  counters: {
    xactCommitByDb: Record<string, number>;
    flushQueriesSubtracted: number;
    /** Connections opened in the window (each one's startup transaction is subtracted, and shown here). */
    sessionsOpened: number;
    byService: Record<string, Omit<ServiceStats, 'pgStatsFlushed'>>;
  };
  /** The processes outside the variant that used the most CPU in the window (what "other" is made of). */
  otherTop: { pid: number; comm: string; seconds: number }[];
}

export interface VariantRun {
  rows: ResultRow[];
  stopped: Record<string, StopResult>;
}

interface Counts {
  stats: Record<string, ServiceStats>;
  db: Record<string, DbStats>;
  wal?: WalStats;
}

interface CpuReading {
  services: Record<string, number>;
  postgres: Map<number, number>;
  rabbitmq: Map<number, number>;
  machine: number;
  all: Map<number, { comm: string; seconds: number }>;
  servicePids: number[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** PGSTAT_IDLE_INTERVAL (10 s) plus a margin: used when a service cannot force its statistics flush. */
const IDLE_FLUSH_WAIT_MS = 11_000;

async function readCounts(services: ServiceHandle[], databases: string[]): Promise<Counts> {
  const stats: Record<string, ServiceStats> = {};
  await Promise.all(
    services.map(
      async (s) => (stats[s.name] = JSON.parse(await s.request('STATS', 'STATS ', 60_000)) as ServiceStats),
    ),
  );
  if (Object.values(stats).some((s) => s.pgStatsFlushed === null)) await sleep(IDLE_FLUSH_WAIT_MS);
  return {
    stats,
    db: await readDbStats(databases),
    wal: databases.length > 0 ? await readWalStats() : undefined,
  };
}

async function readCpu(services: ServiceHandle[], databases: string[]): Promise<CpuReading> {
  const cpu: Record<string, number> = {};
  for (const s of services) cpu[s.name] = s.cpuSeconds() ?? NaN;
  return {
    services: cpu,
    postgres: cpuSecondsByPid(await backendPids(databases)),
    rabbitmq: cpuSecondsByPid(pidsByComm('beam.smp')),
    machine: machineBusySeconds(),
    all: allProcessCpu(),
    servicePids: services.map((s) => s.pid),
  };
}

function perSaga(n: number, count: number): number {
  return Math.round((n / count) * 1000) / 1000;
}

function buildRow(
  variant: VariantSpec,
  result: LoadResult,
  counts: [Counts, Counts],
  cpu: [CpuReading, CpuReading],
): ResultRow {
  const [c0, c1] = counts;
  const [u0, u1] = cpu;
  const round = (s: number): number => Math.round(s * 100) / 100;
  const cpuSeconds: Record<string, number> = {};
  for (const name of Object.keys(u1.services))
    cpuSeconds[name] = round(u1.services[name] - u0.services[name]);
  cpuSeconds.postgres = round(cpuDelta(u0.postgres, u1.postgres));
  cpuSeconds.rabbitmq = round(cpuDelta(u0.rabbitmq, u1.rabbitmq));
  cpuSeconds.machine = round(u1.machine - u0.machine);
  // Busy CPU of everything else on the host (other users' builds, tests): a noise indicator, not our cost.
  const ours = Object.entries(cpuSeconds).reduce((n, [k, v]) => (k === 'machine' ? n : n + v), 0);
  cpuSeconds.other = round(Math.max(0, cpuSeconds.machine - ours));
  const known = new Set([...u1.servicePids, ...u1.postgres.keys(), ...u1.rabbitmq.keys(), process.pid]);
  const otherTop = [...u1.all]
    .filter(([pid]) => !known.has(pid))
    .map(([pid, p]) => ({ pid, comm: p.comm, seconds: round(p.seconds - (u0.all.get(pid)?.seconds ?? 0)) }))
    .filter((p) => p.seconds > 0)
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, 5);

  const xactCommitByDb: Record<string, number> = {};
  let commits = 0;
  let rollbacks = 0;
  let sessionsOpened = 0;
  for (const db of variant.databases) {
    sessionsOpened += (c1.db[db]?.sessions ?? 0) - (c0.db[db]?.sessions ?? 0);
    xactCommitByDb[db] = (c1.db[db]?.xactCommit ?? 0) - (c0.db[db]?.xactCommit ?? 0);
    commits += xactCommitByDb[db];
    rollbacks += (c1.db[db]?.xactRollback ?? 0) - (c0.db[db]?.xactRollback ?? 0);
  }
  const flushQueriesSubtracted = Object.values(c1.stats).reduce((n, s) => n + (s.pgStatsFlushed ?? 0), 0);
  const byService: ResultRow['counters']['byService'] = {};
  const total = { published: 0, consumed: 0, commits: 0, rollbacks: 0 };
  const statementsPerSaga: ResultRow['statementsPerSaga'] = {};
  const eventLoopUtilization: ResultRow['eventLoopUtilization'] = {};
  for (const name of Object.keys(c1.stats)) {
    const a = c0.stats[name];
    const b = c1.stats[name];
    const d = {
      published: b.published - a.published,
      consumed: b.consumed - a.consumed,
      commits: b.commits - a.commits,
      rollbacks: b.rollbacks - a.rollbacks,
    };
    byService[name] = d;
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += d[k];
    for (const [kind, after] of Object.entries(b.statements ?? {})) {
      const before = a.statements?.[kind] ?? { count: 0, ms: 0 };
      if (after.count === before.count) continue;
      statementsPerSaga[`${name}: ${kind}`] = {
        count: perSaga(after.count - before.count, result.count),
        ms: perSaga(after.ms - before.ms, result.count),
      };
    }
    if (a.eventLoop && b.eventLoop) {
      const active = b.eventLoop.active - a.eventLoop.active;
      const idle = b.eventLoop.idle - a.eventLoop.idle;
      eventLoopUtilization[name] = Math.round((active / (active + idle)) * 1000) / 1000;
    }
  }
  return {
    variant: variant.name,
    ...result,
    cpuSeconds,
    transactionsPerSaga: variant.databases.length
      ? perSaga(commits - flushQueriesSubtracted - sessionsOpened, result.count)
      : NaN,
    transactionsPerSagaInProcess: Object.values(c1.stats).some((s) => s.commitsCounted === false)
      ? NaN
      : perSaga(total.commits, result.count),
    rollbacksPerSaga: perSaga(rollbacks, result.count),
    messagesPerSaga: perSaga(total.published, result.count),
    consumedPerSaga: perSaga(total.consumed, result.count),
    statementsPerSaga,
    eventLoopUtilization,
    walPerSaga:
      c0.wal && c1.wal
        ? {
            records: perSaga(c1.wal.records - c0.wal.records, result.count),
            fpi: perSaga(c1.wal.fpi - c0.wal.fpi, result.count),
            bytes: Math.round((c1.wal.bytes - c0.wal.bytes) / result.count),
          }
        : undefined,
    counters: { xactCommitByDb, flushQueriesSubtracted, sessionsOpened, byService },
    otherTop,
  };
}

/** Waits (up to `maxSeconds`) until the machine is less than a quarter of a core busy over one second. */
async function waitForQuietMachine(maxSeconds: number): Promise<void> {
  for (let waited = 0; waited < maxSeconds; waited++) {
    const before = machineBusySeconds();
    await sleep(1000);
    const busy = machineBusySeconds() - before;
    if (busy < 0.25) return;
    if (waited % 10 === 0) {
      process.stderr.write(`waiting for a quiet machine: ${busy.toFixed(2)} cores busy by other processes\n`);
    }
  }
  process.stderr.write(`the machine is still busy after ${maxSeconds} s: measuring anyway (see "other")\n`);
}

async function measure(
  variant: VariantSpec,
  services: ServiceHandle[],
  driver: ServiceHandle,
  concurrency: number,
  options: BenchOptions,
  keepLatencies = false,
): Promise<ResultRow> {
  const { count, warmup, settleMs } = options;
  process.stderr.write(
    `\n== ${variant.name}: concurrency ${concurrency}, ${warmup} warm-up + ${count} measured\n`,
  );
  if (options.quietWaitSeconds > 0) await waitForQuietMachine(options.quietWaitSeconds);
  await driver.request(
    `LOAD ${JSON.stringify({ concurrency, count, warmup, keepLatencies })}`,
    'WARM',
    60_000 + warmup * 1000,
  );
  if (variant.databases.length) {
    const seconds = await checkpoint();
    if (seconds > 1) process.stderr.write(`CHECKPOINT before the window: ${seconds.toFixed(1)} s\n`);
  }
  await sleep(settleMs);
  const before = await readCounts(services, variant.databases);
  const cpuBefore = await readCpu(services, variant.databases);
  const resultLine = await driver.request('GO', 'RESULT ', 60_000 + count * 1000);
  await sleep(settleMs);
  const cpuAfter = await readCpu(services, variant.databases);
  const after = await readCounts(services, variant.databases);
  return buildRow(variant, JSON.parse(resultLine) as LoadResult, [before, after], [cpuBefore, cpuAfter]);
}

/** Runs `count` sagas through the driver, one at a time, outside any measurement (e.g. to make a template). */
export async function runSagas(driver: ServiceHandle, count: number): Promise<LoadResult> {
  await driver.request(`LOAD ${JSON.stringify({ concurrency: 1, count, warmup: 0 })}`, 'WARM', 60_000);
  return JSON.parse(await driver.request('GO', 'RESULT ', 60_000 + count * 1000)) as LoadResult;
}

/** A variant whose services are up (or being started: `services` holds those started so far). */
interface Running {
  variant: VariantSpec;
  services: ServiceHandle[];
  stopped: Record<string, StopResult>;
}

/** Sets the variant up and starts its services in order; returns the driver. `running.services` grows as they start. */
async function startVariant(running: Running, options: BenchOptions): Promise<ServiceHandle> {
  const { variant, services } = running;
  await variant.setup?.();
  if (variant.queues.length) await purgeQueues(options.amqpUrl, variant.queues);
  for (const spec of variant.services) {
    process.stderr.write(`${variant.name}: starting ${spec.name}\n`);
    const env = { AMQP_URL: options.amqpUrl, ...spec.env };
    // e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile every service.
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean);
    services.push(await spawnService(spec.name, spec.entryJs, env, { echoStderr: true, nodeArgs }));
  }
  const driver = services.find((s) => s.name === variant.driver);
  if (!driver) throw new Error(`${variant.name}: no service named ${variant.driver}`);
  await variant.prepare?.(driver);
  return driver;
}

/** Stops the services started (in reverse order) and cleans the broker and the variant's files. */
async function stopVariant({ variant, services, stopped }: Running, options: BenchOptions): Promise<void> {
  for (const s of [...services].reverse()) {
    stopped[s.name] = await s.stop();
    const r = stopped[s.name];
    if (r.code !== 0 || r.killed)
      process.stderr.write(`${s.name} did not stop cleanly: ${JSON.stringify(r)}\n`);
  }
  try {
    if (variant.queues.length) await deleteQueues(options.amqpUrl, variant.queues);
  } finally {
    await variant.teardown?.();
  }
}

function progressLine(r: ResultRow): string {
  return (
    `${r.variant} c=${r.concurrency}: ${r.perSecond.toFixed(1)} sagas/s, p50 ${r.p50} ms ` +
    `(by quarter of the window ${r.p50ByQuarter.join('/')}), ` +
    `${r.transactionsPerSaga} tx/saga (in-process ${r.transactionsPerSagaInProcess}), ` +
    `${r.messagesPerSaga} msgs/saga` +
    (r.walPerSaga
      ? `, WAL ${(r.walPerSaga.bytes / 1024).toFixed(1)} kB/saga (${r.walPerSaga.fpi} FPI)`
      : '') +
    '\n'
  );
}

/** Starts the variant's services, measures each concurrency in turn, stops everything and cleans the broker. */
export async function runVariant(variant: VariantSpec, options: BenchOptions): Promise<VariantRun> {
  const rows: ResultRow[] = [];
  const running: Running = { variant, services: [], stopped: {} };
  try {
    const driver = await startVariant(running, options);
    for (const concurrency of options.concurrencies) {
      rows.push(await measure(variant, running.services, driver, concurrency, options));
      process.stderr.write(progressLine(rows[rows.length - 1]));
    }
  } finally {
    await stopVariant(running, options);
  }
  return { rows, stopped: running.stopped };
}

export interface InterleavePlan {
  /** Each concurrency in turn, every round at it before the next (the services stay up throughout). */
  concurrencies: number[];
  /** Rounds; each measures every variant once, in the order A B, then B A, and so on (A B B A A B …). */
  rounds: number;
  /** Warm-up of every window after the first of its variant (which has the options' full warm-up). */
  windowWarmup: number;
}

/**
 * Measures several variants in alternating windows, all their services up for the whole time: at each concurrency
 * of the plan, `options.count` sagas per variant, split into `plan.rounds` windows. The host's speed drifts between
 * windows by up to ±20 % here, more than the differences measured at one saga in flight; alternating (A B B A …)
 * puts both variants under the same drift, and a linear drift cancels. Each variant's windows are pooled into one
 * row per concurrency (latency percentiles over every saga of its windows), named `<variant> (interleaved)`;
 * `windows` keeps each window's own row, in the order measured.
 */
export async function runInterleaved(
  variants: VariantSpec[],
  options: BenchOptions,
  plan: InterleavePlan,
): Promise<VariantRun & { windows: ResultRow[] }> {
  const running = variants.map((variant): Running => ({ variant, services: [], stopped: {} }));
  const windows: ResultRow[] = [];
  const perWindow = Math.ceil(options.count / plan.rounds);
  try {
    const drivers: ServiceHandle[] = [];
    for (const r of running) drivers.push(await startVariant(r, options));
    for (const concurrency of plan.concurrencies) {
      for (let round = 0; round < plan.rounds; round++) {
        const order = running.map((_, i) => i);
        if (round % 2 === 1) order.reverse();
        for (const i of order) {
          const name = running[i].variant.name;
          const warmup = windows.some((w) => w.variant === name && w.concurrency === concurrency)
            ? plan.windowWarmup
            : options.warmup;
          const window = await measure(
            running[i].variant,
            running[i].services,
            drivers[i],
            concurrency,
            { ...options, count: perWindow, warmup },
            true,
          );
          windows.push(window);
          process.stderr.write(`round ${round + 1}/${plan.rounds}: ${progressLine(window)}`);
        }
      }
    }
  } finally {
    for (const r of [...running].reverse()) await stopVariant(r, options);
  }
  const rows = plan.concurrencies.flatMap((concurrency) =>
    running.map((r) =>
      poolWindows(
        `${r.variant.name} (interleaved)`,
        windows.filter((w) => w.variant === r.variant.name && w.concurrency === concurrency),
      ),
    ),
  );
  // Keyed by variant too: both variants may have a service of the same name.
  const stopped: Record<string, StopResult> = {};
  for (const r of running)
    for (const [name, result] of Object.entries(r.stopped)) stopped[`${r.variant.name}:${name}`] = result;
  return { rows, windows: windows.map(({ latenciesMs: _, ...w }) => w), stopped };
}

/**
 * One row for several windows of one variant: counts, seconds and CPU added up, latency percentiles over all their
 * sagas, per-saga figures weighted by each window's count; `p50ByQuarter` becomes the p50 of each window.
 */
export function poolWindows(variant: string, windows: ResultRow[]): ResultRow {
  if (windows.length === 0) throw new Error(`${variant}: no window measured`);
  const count = sum(windows.map((w) => w.count));
  const seconds = sum(windows.map((w) => w.seconds));
  const latencies = Float64Array.from(windows.flatMap((w) => w.latenciesMs ?? [])).sort();
  if (latencies.length !== count) throw new Error(`${variant}: windows without their latencies`);
  const weighted = (f: (w: ResultRow) => number): number => sum(windows.map((w) => f(w) * w.count)) / count;
  const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
  const addUp = <T extends Record<string, number>>(parts: T[]): Record<string, number> => {
    const total: Record<string, number> = {};
    for (const part of parts)
      for (const [k, v] of Object.entries(part)) total[k] = round((total[k] ?? 0) + v);
    return total;
  };
  const statements: ResultRow['statementsPerSaga'] = {};
  for (const key of new Set(windows.flatMap((w) => Object.keys(w.statementsPerSaga)))) {
    statements[key] = {
      count: round(
        weighted((w) => w.statementsPerSaga[key]?.count ?? 0),
        3,
      ),
      ms: round(
        weighted((w) => w.statementsPerSaga[key]?.ms ?? 0),
        3,
      ),
    };
  }
  const byService: ResultRow['counters']['byService'] = {};
  for (const name of new Set(windows.flatMap((w) => Object.keys(w.counters.byService)))) {
    const of = (k: 'published' | 'consumed' | 'commits' | 'rollbacks'): number =>
      sum(windows.map((w) => w.counters.byService[name]?.[k] ?? 0));
    byService[name] = {
      published: of('published'),
      consumed: of('consumed'),
      commits: of('commits'),
      rollbacks: of('rollbacks'),
    };
  }
  const other = new Map<number, { pid: number; comm: string; seconds: number }>();
  for (const p of windows.flatMap((w) => w.otherTop)) {
    const seen = other.get(p.pid);
    other.set(p.pid, { ...p, seconds: round((seen?.seconds ?? 0) + p.seconds) });
  }
  const elu = new Set(windows.flatMap((w) => Object.keys(w.eventLoopUtilization)));
  return {
    variant,
    concurrency: windows[0].concurrency,
    count,
    seconds: round(seconds),
    perSecond: round(count / seconds),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    mean: round(sum(Array.from(latencies)) / count),
    max: latencies[count - 1],
    p50ByQuarter: windows.map((w) => w.p50),
    cpuSeconds: addUp(windows.map((w) => w.cpuSeconds)),
    transactionsPerSaga: round(
      weighted((w) => w.transactionsPerSaga),
      3,
    ),
    transactionsPerSagaInProcess: round(
      weighted((w) => w.transactionsPerSagaInProcess),
      3,
    ),
    rollbacksPerSaga: round(
      weighted((w) => w.rollbacksPerSaga),
      3,
    ),
    messagesPerSaga: round(
      weighted((w) => w.messagesPerSaga),
      3,
    ),
    consumedPerSaga: round(
      weighted((w) => w.consumedPerSaga),
      3,
    ),
    statementsPerSaga: statements,
    walPerSaga: windows.every((w) => w.walPerSaga)
      ? {
          records: round(
            weighted((w) => w.walPerSaga!.records),
            3,
          ),
          fpi: round(
            weighted((w) => w.walPerSaga!.fpi),
            3,
          ),
          bytes: Math.round(weighted((w) => w.walPerSaga!.bytes)),
        }
      : undefined,
    eventLoopUtilization: Object.fromEntries(
      [...elu].map((k) => [
        k,
        round(
          weighted((w) => w.eventLoopUtilization[k] ?? 0),
          3,
        ),
      ]),
    ),
    counters: {
      xactCommitByDb: addUp(windows.map((w) => w.counters.xactCommitByDb)),
      flushQueriesSubtracted: sum(windows.map((w) => w.counters.flushQueriesSubtracted)),
      sessionsOpened: sum(windows.map((w) => w.counters.sessionsOpened)),
      byService,
    },
    otherTop: [...other.values()].sort((a, b) => b.seconds - a.seconds).slice(0, 5),
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
