import { Client } from 'pg';
import type { DataSourceOptions } from 'typeorm';

export const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

/**
 * Creates `name` on the local PostgreSQL if missing (and drops it first when `fresh`). Throws — never skips —
 * when PostgreSQL cannot be reached: the integration tests must fail loudly in CI.
 */
export async function ensurePgDatabase(name: string, fresh = true): Promise<string> {
  const client = new Client({ connectionString: `${PG_URL}/postgres` });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${PG_URL} (${String(error)}). Start it: see README "Tests".`);
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

export type DbKind = 'sqlite' | 'postgres';

/** TypeORM options for one of the two databases every integration spec runs on. */
export async function dataSourceOptions(kind: DbKind, pgDatabase: string): Promise<DataSourceOptions> {
  if (kind === 'sqlite') return { type: 'better-sqlite3', database: ':memory:' };
  return { type: 'postgres', url: await ensurePgDatabase(pgDatabase), poolSize: 8 };
}
