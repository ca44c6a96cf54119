/**
 * Boots one bench process of the library's sample shop: the apps' own feature modules (`OrderModule`,
 * `PaymentModule`, `ShippingModule`) on the same infrastructure as their app roots (`serviceInfrastructure` of
 * apps/shared/src/service-root.ts for a service, `MonolithModule` for the monolith): a TypeORM DataSource built by
 * the apps' `dataSourceOptions` (their migrations and the saga migrations run at startup) and `SagaModule`. Two
 * differences, both outside the measured code: the transport is a counting subclass of the library's own adapter,
 * and there is no HTTP server (an application context): the load is driven in-process.
 */
import { type DynamicModule, type INestApplicationContext, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import {
  dataSourceOptions,
  ensurePostgresDatabase,
  parseDatabaseUrl,
  type EntityDeclaration,
  type MigrationClass,
} from '../../apps/shared/src/database';
import { PaymentsService } from '../../apps/payment/src/payments.service';
import { SagaModule, sagaEntities, sagaMigrations, type SagaTransport } from '../../libs/saga/src';
import type { ServiceCounters, ServiceStats } from '../lib/control';
import { BENCH_CUSTOMERS } from '../lib/customers';
import { forcePgStatsFlush, pgConfig } from '../lib/pg-stats';
import { newSagaCounters, SqlProfiler, StderrLogger } from './instrumentation';

export interface BenchServiceOptions {
  /** The saga service name (`order`, `payment`, `shipping`, or `shop` for the monolith). */
  service: string;
  /** `postgres://…` or `sqlite:<file>`, as the apps' DATABASE_URL. */
  databaseUrl: string;
  schema: { entities: EntityDeclaration[]; migrations: MigrationClass[] };
  /** The apps' feature modules. */
  modules: Type<unknown>[];
  transport: (counters: ServiceCounters) => SagaTransport;
}

@Module({})
class BenchServiceRoot {
  static forRoot(options: BenchServiceOptions, transport: SagaTransport): DynamicModule {
    const db = parseDatabaseUrl(options.databaseUrl);
    return {
      module: BenchServiceRoot,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: async () => {
            if (db.kind === 'postgres') await ensurePostgresDatabase(db.url);
            return dataSourceOptions(db, {
              entities: [...options.schema.entities, ...sagaEntities],
              migrations: [...options.schema.migrations, ...sagaMigrations],
            });
          },
        }),
        SagaModule.forRoot({
          service: options.service,
          transport,
          // BENCH_SAGA_PIPELINING=0: PostgreSQL transactions without pipelined BEGIN/COMMIT (to measure what it saves).
          // BENCH_SAGA_IMPLICIT_JOIN=0: database.implicitJoin false (to measure what following the async context costs).
          database: {
            pipelining: process.env.BENCH_SAGA_PIPELINING !== '0',
            implicitJoin: process.env.BENCH_SAGA_IMPLICIT_JOIN !== '0',
            ...(process.env.BENCH_SAGA_PREPARED === 'library'
              ? { preparedStatements: 'library' as const }
              : {}),
          },
        }),
        ...options.modules,
      ],
    };
  }
}

export interface BenchService {
  app: INestApplicationContext;
  dataSource: DataSource;
  counters: ReturnType<typeof newSagaCounters>;
  /** Flushes PostgreSQL's statistics of the pool's backends (if PostgreSQL), then returns the counters. */
  stats(): Promise<ServiceStats>;
  /** Closes the app (saga transport drained and closed, DataSource destroyed) and returns the counters. */
  close(): Promise<ServiceCounters>;
}

/** The DataSource's pg Pool (TypeORM's PostgresDriver keeps it as `master`), or undefined on SQLite. */
function pgPool(dataSource: DataSource): Pool | undefined {
  if (dataSource.options.type !== 'postgres') return undefined;
  return (dataSource.driver as PostgresDriver).master as Pool;
}

export async function startBenchService(options: BenchServiceOptions): Promise<BenchService> {
  const counters = newSagaCounters();
  const app = await NestFactory.createApplicationContext(
    BenchServiceRoot.forRoot(options, options.transport(counters)),
    { logger: new StderrLogger() },
  );
  const dataSource = app.get<DataSource>(getDataSourceToken());
  // The statement profile (a TypeORM subscriber called for every query: ~1.5 % of a service's CPU at one saga in
  // flight, and work the baseline does not do) only on request — and on SQLite, where it is the only count of
  // transactions; PostgreSQL's pg_stat_database counts them otherwise.
  if (process.env.BENCH_SQL_PROFILE === '1' || dataSource.options.type !== 'postgres') {
    dataSource.subscribers.push(new SqlProfiler(counters));
  } else {
    counters.commitsCounted = false;
  }
  const pool = pgPool(dataSource);
  return {
    app,
    dataSource,
    counters,
    stats: async () => {
      const pgStatsFlushed = pool ? await forcePgStatsFlush(pool) : 0;
      const { idle, active } = performance.eventLoopUtilization();
      return { ...structuredClone(counters), pgStatsFlushed, eventLoop: { idle, active } };
    },
    close: async () => {
      await app.close();
      return counters;
    },
  };
}

/** `postgres://user@host:port/<database>` from the PG* variables (as `pgConfig`). */
export function postgresUrl(database: string): string {
  const c = pgConfig(database);
  const password = typeof c.password === 'string' ? `:${encodeURIComponent(c.password)}` : '';
  return `postgres://${encodeURIComponent(c.user ?? 'postgres')}${password}@${c.host}:${c.port}/${database}`;
}

/** Seeds `BENCH_CUSTOMERS` (missing ones only) through the payment service's own `seedCustomers`. */
export async function seedBenchCustomers(service: BenchService): Promise<void> {
  const payments = service.app.get(PaymentsService);
  // In chunks: on SQLite, TypeORM reads the inserted rows back with one OR term per row (1000 is too deep).
  for (let i = 0; i < BENCH_CUSTOMERS.length; i += 100) {
    await payments.seedCustomers(service.dataSource.manager, BENCH_CUSTOMERS.slice(i, i + 100));
  }
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}
