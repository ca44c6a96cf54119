import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import type { DataSourceOptions } from 'typeorm';

export const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
export const MARIADB_URL = process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306';

/**
 * Creates `name` on the local PostgreSQL if missing (and drops it first when `fresh`). Throws — never skips —
 * when PostgreSQL cannot be reached: the integration tests must fail loudly in CI.
 */
export async function ensurePgDatabase(name: string, fresh = true): Promise<string> {
  const client = new Client({ connectionString: `${PG_URL}/postgres` });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${PG_URL} (${String(error)}). Start it: see README "Tests".`,
      {
        cause: error,
      },
    );
  }
  try {
    if (fresh) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return `${PG_URL}/${name}`;
}

/**
 * Creates `name` (utf8mb4) on the local MariaDB if missing (and drops it first when `fresh`). Throws — never
 * skips — when MariaDB cannot be reached. Returns the URL of the database.
 */
export async function ensureMariaDbDatabase(name: string, fresh = true): Promise<string> {
  const connection = await createConnection({ uri: MARIADB_URL, connectTimeout: 5000 }).catch(
    (error: unknown) => {
      throw new Error(
        `MariaDB is not reachable at ${MARIADB_URL} (${String(error)}). Start it: see README "Tests".`,
        { cause: error },
      );
    },
  );
  try {
    if (fresh) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4`);
  } finally {
    await connection.end();
  }
  return `${MARIADB_URL}/${name}`;
}

export type DbKind = 'sqlite' | 'postgres' | 'mariadb';

/** TypeORM options for one of the databases every integration spec runs on (`database`: its name there). */
export async function dataSourceOptions(kind: DbKind, database: string): Promise<DataSourceOptions> {
  if (kind === 'sqlite') return { type: 'better-sqlite3', database: ':memory:' };
  if (kind === 'mariadb') return { type: 'mariadb', url: await ensureMariaDbDatabase(database), poolSize: 8 };
  return { type: 'postgres', url: await ensurePgDatabase(database), poolSize: 8 };
}
