import { Client } from 'pg';
import { DataSource, type DataSourceOptions, type EntitySchema } from 'typeorm';
import { sagaEntities, sagaMigrations } from '../../libs/saga/src/persistence/typeorm';
import { ensureMariaDbDatabase } from '../support/databases';

/**
 * The databases the persistence specs run against. PostgreSQL must be reachable (127.0.0.1:5432, user postgres,
 * trust auth, or PGHOST/PGPORT/PGUSER/PGPASSWORD), and so must MariaDB (127.0.0.1:3306, user root, no password,
 * or TEST_MARIADB_URL): the specs fail without them, they do not skip.
 * Each spec file works in its own PostgreSQL schema of the `saga_persistence_test` database, and in its own
 * MariaDB database `saga_persistence_test_<schema>`, so that files run by parallel Jest workers do not drop each
 * other's tables.
 */
export const PG_DATABASE = 'saga_persistence_test';

const pg = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  password: process.env.PGPASSWORD,
};

export interface TestDatabase {
  name: 'sqlite' | 'postgres' | 'mariadb';
  /** The TypeORM driver type. */
  type: DataSourceOptions['type'];
  /**
   * A fresh, empty database (SQLite: in memory; PostgreSQL: the spec's schema, dropped and re-created; MariaDB:
   * the spec's database, dropped and re-created) and a DataSource over it. By default the saga migrations have run.
   */
  open(options?: {
    entities?: readonly EntitySchema[];
    migrate?: boolean;
    synchronize?: boolean;
  }): Promise<DataSource>;
  /** A second DataSource over the same database (not SQLite: in memory, it is one connection). */
  reopen(): Promise<DataSource>;
}

/** `schema`: this spec file's PostgreSQL schema name. */
export function testDatabases(schema: string): TestDatabase[] {
  const sqlite: TestDatabase = {
    name: 'sqlite',
    type: 'better-sqlite3',
    open: (options = {}) =>
      initialise({ type: 'better-sqlite3', database: ':memory:', ...sagaOptions(options) }, options.migrate),
    reopen: () => Promise.reject(new Error('An in-memory SQLite database has one connection.')),
  };
  const pgOptions = (): DataSourceOptions => ({
    type: 'postgres',
    host: pg.host,
    port: pg.port,
    username: pg.user,
    password: pg.password,
    database: PG_DATABASE,
    schema,
    connectTimeoutMS: 5000,
  });
  const postgres: TestDatabase = {
    name: 'postgres',
    type: 'postgres',
    open: async (options = {}) => {
      await resetSchema(schema);
      return initialise({ ...pgOptions(), ...sagaOptions(options) }, options.migrate);
    },
    reopen: () => initialise({ ...pgOptions(), entities: [...sagaEntities] }, false),
  };
  const mariadbDatabase = `${PG_DATABASE}_${schema}`;
  const mariadbOptions = (url: string): DataSourceOptions => ({ type: 'mariadb', url, connectTimeout: 5000 });
  const mariadb: TestDatabase = {
    name: 'mariadb',
    type: 'mariadb',
    open: async (options = {}) =>
      initialise(
        { ...mariadbOptions(await ensureMariaDbDatabase(mariadbDatabase)), ...sagaOptions(options) },
        options.migrate,
      ),
    reopen: async () =>
      initialise(
        {
          ...mariadbOptions(await ensureMariaDbDatabase(mariadbDatabase, false)),
          entities: [...sagaEntities],
        },
        false,
      ),
  };
  return [sqlite, postgres, mariadb];
}

function sagaOptions(options: { entities?: readonly EntitySchema[]; synchronize?: boolean }) {
  return {
    entities: [...(options.entities ?? sagaEntities)],
    migrations: [...sagaMigrations],
    synchronize: options.synchronize ?? false,
  };
}

async function initialise(options: DataSourceOptions, migrate = true): Promise<DataSource> {
  const dataSource = await new DataSource(options).initialize();
  if (migrate && !options.synchronize) await dataSource.runMigrations();
  return dataSource;
}

/** Creates the test database when missing, then drops and re-creates `schema` in it. */
async function resetSchema(schema: string): Promise<void> {
  const admin = new Client({ ...pg, database: 'postgres', connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG_DATABASE]);
    if (rowCount === 0) {
      // Two workers may race to create it: "already exists" (42P04) or a unique violation (23505) is fine.
      await admin.query(`CREATE DATABASE ${PG_DATABASE}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await admin.end();
  }
  const client = new Client({ ...pg, database: PG_DATABASE, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
}
