import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_AMQP_URL, deleteExchanges, deleteQueues } from '../lib/broker';
import { countRows, recreateDatabase } from '../lib/pg-stats';
import type { ServiceHandle } from '../lib/process';
import { runSagas, type VariantSpec } from '../lib/runner';
import { MONOLITH_DATABASE, SAGA_PREFIX, sagaBrokerObjects, sagaDatabases } from './common';
import { preloadFromTemplate } from './preload';
import { postgresUrl } from './service';

const amqp = (): string => process.env.AMQP_URL ?? DEFAULT_AMQP_URL;

/**
 * The apps import the library as `nestjs-saga` (a tsconfig path): only `nest build` rewrites it in the output. A bench
 * compiled with plain `tsc` would fail in every service with "Cannot find module": say how to build it instead.
 */
function checkBuild(): void {
  const compiled = readFileSync(
    join(__dirname, '../../apps/order/src/place-order/place-order.saga.js'),
    'utf8',
  );
  if (/require\("nestjs-saga/.test(compiled)) {
    throw new Error(
      'dist/bench was compiled without rewriting the nestjs-saga path alias: build it with ' +
        '`npx nest build -p bench/tsconfig.json` (as `npm run bench` does), not plain tsc',
    );
  }
}

/** Deletes the variant's queues and exchanges (the transport declares them again, with their arguments). */
async function resetBroker(prefix: string): Promise<void> {
  const { queues, exchanges } = sagaBrokerObjects(prefix);
  await deleteQueues(amqp(), queues);
  await deleteExchanges(amqp(), exchanges);
}

/**
 * The library's saga, distributed: order, payment and shipping as three processes over RabbitMQ, each with its own
 * PostgreSQL database (re-created empty at the start). Participants start first, so the coordinator finds them
 * consuming. With `preloadSagas`, that many finished sagas are written into every service's tables before the
 * measurements (history, outbox and inbox rows shaped like real ones): the "growth" run.
 */
export function sagaVariant(
  options: { name?: string; preloadSagas?: number; lean?: boolean; explicitJoin?: boolean } = {},
): VariantSpec {
  const preload = options.preloadSagas ?? 0;
  // `lean`, `explicitJoin` and the preloaded run have queues and databases of their own, so that they can run
  // beside `saga` (interleaved at c=1).
  const prefix = options.lean
    ? `${SAGA_PREFIX}-lean`
    : options.explicitJoin
      ? `${SAGA_PREFIX}-explicit`
      : preload > 0
        ? `${SAGA_PREFIX}-growth`
        : SAGA_PREFIX;
  const databases = sagaDatabases(prefix);
  const env = {
    BENCH_SAGA_PREFIX: prefix,
    ...(options.explicitJoin ? { BENCH_SAGA_IMPLICIT_JOIN: '0' } : {}),
  };
  // `lean`: the baseline's business work instead of the sample's (lean.ts), one entry for the three roles.
  const service = (name: string) =>
    options.lean
      ? { name, entryJs: join(__dirname, 'lean.js'), env: { ...env, BENCH_ROLE: name } }
      : { name, entryJs: join(__dirname, `${name}.js`), env };
  return {
    name: options.name ?? 'saga',
    databases: Object.values(databases),
    // The runner's purge would declare them without the transport's arguments: they are deleted instead.
    queues: [],
    services: [service('payment'), service('shipping'), service('order')],
    driver: 'order',
    setup: async () => {
      checkBuild();
      for (const db of Object.values(databases)) await recreateDatabase(db);
      await resetBroker(prefix);
    },
    prepare: preload > 0 ? (driver) => preloadFinishedSagas(driver, preload, databases) : undefined,
    teardown: () => resetBroker(prefix),
  };
}

/**
 * Runs one real saga (the template), waits until the relays have marked its messages sent, then copies its rows
 * `count` times in the three databases (see `preloadFromTemplate`).
 */
async function preloadFinishedSagas(
  driver: ServiceHandle,
  count: number,
  variantDatabases: Record<string, string>,
): Promise<void> {
  await runSagas(driver, 1);
  const databases = Object.values(variantDatabases);
  for (let waited = 0; ; waited += 100) {
    let unsent = 0;
    for (const db of databases)
      unsent += await countRows(db, 'SELECT count(*) AS n FROM saga_outbox WHERE sent_at IS NULL');
    if (unsent === 0) break;
    if (waited > 10_000)
      throw new Error(`preload: ${unsent} outbox row(s) of the template saga still unsent`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await preloadFromTemplate(databases, count);
}

/** The monolith (one process, in-process transport) on a SQLite file, re-created at the start. */
export function monolithSqliteVariant(): VariantSpec {
  const file = join(tmpdir(), `bench-monolith-${process.pid}.sqlite`);
  const remove = async (): Promise<void> => {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
  };
  return {
    name: 'monolith-sqlite',
    databases: [],
    queues: [],
    services: [
      {
        name: 'monolith',
        entryJs: join(__dirname, 'monolith.js'),
        env: { BENCH_DATABASE_URL: `sqlite:${file}` },
      },
    ],
    driver: 'monolith',
    setup: async () => {
      checkBuild();
      await remove();
    },
    teardown: remove,
  };
}

/** The monolith on PostgreSQL (one database, re-created empty at the start). */
export function monolithPostgresVariant(): VariantSpec {
  return {
    name: 'monolith-pg',
    databases: [MONOLITH_DATABASE],
    queues: [],
    services: [
      {
        name: 'monolith',
        entryJs: join(__dirname, 'monolith.js'),
        env: { BENCH_DATABASE_URL: postgresUrl(MONOLITH_DATABASE) },
      },
    ],
    driver: 'monolith',
    setup: async () => {
      checkBuild();
      await recreateDatabase(MONOLITH_DATABASE);
    },
  };
}
