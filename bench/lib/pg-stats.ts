import { Client, type ClientConfig, type Pool } from 'pg';

/** Connection settings of the local PostgreSQL (overridable with the usual PG* variables). */
export function pgConfig(database: string): ClientConfig {
  return {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    password: process.env.PGPASSWORD,
    database,
  };
}

async function withAdminClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(pgConfig(process.env.BENCH_ADMIN_DB ?? 'postgres'));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Writes every dirty buffer out now (`CHECKPOINT`), so that a window does not pay for an earlier one's writes (or for
 * the growth run's preload): a checkpoint that PostgreSQL starts on its own (every 5 min, or when enough WAL has been
 * written) would otherwise fall in whichever window runs then. Needs a superuser or `pg_checkpoint`; without, says
 * so once and goes on. Returns the seconds it took.
 */
export async function checkpoint(): Promise<number> {
  const t0 = Date.now();
  try {
    await withAdminClient((client) => client.query('CHECKPOINT'));
  } catch (err) {
    if (!checkpointRefused) {
      checkpointRefused = true;
      process.stderr.write(`note: CHECKPOINT refused (${String(err)}): a checkpoint may fall in a window\n`);
    }
  }
  return (Date.now() - t0) / 1000;
}
let checkpointRefused = false;

/** Creates the database if it does not exist (tolerates a concurrent creation). */
export async function ensureDatabase(name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name: ${name}`);
  await withAdminClient(async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return;
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } catch (err) {
      // 42P04 duplicate_database, 23505 unique_violation: someone created it between our check and ours.
      const code = (err as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw err;
    }
  });
}

/** Drops the database if it exists (disconnecting its sessions) and creates it empty. */
export async function recreateDatabase(name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name: ${name}`);
  await withAdminClient(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  });
}

/** Runs a `SELECT count(*) AS n …` in `database` and returns n. */
export async function countRows(database: string, sql: string): Promise<number> {
  const client = new Client(pgConfig(database));
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(sql);
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

/** See forcePgStatsFlush; exported for services whose pool is not a pg Pool (one query per connection). */
export const FLUSH_QUERY = 'SELECT pg_stat_force_next_flush() FROM (SELECT 1 FROM pg_namespace LIMIT 1) s';

/**
 * PostgreSQL 15 backends flush their statistics to shared memory at most once a second while busy, and an idle
 * backend that flushed recently waits up to 10 s (PGSTAT_IDLE_INTERVAL) before flushing again: reading
 * pg_stat_database right after a burst misses transactions. `pg_stat_force_next_flush()` makes the calling
 * backend flush when it goes idle, which happens before the query's result reaches us. A backend with no pending
 * relation statistics skips the flush entirely (its transaction counter stays local), so the query also scans a
 * catalog table (one row of pg_namespace) to make sure something is pending. We run it once on every connection
 * of the pool (the pool must be quiet) and return how many we ran: each is itself one committed transaction,
 * which the runner subtracts.
 */
export async function forcePgStatsFlush(pool: Pool): Promise<number> {
  const n = pool.totalCount;
  const clients = await Promise.all(Array.from({ length: n }, () => pool.connect()));
  try {
    await Promise.all(clients.map((c) => c.query(FLUSH_QUERY)));
  } finally {
    for (const c of clients) c.release();
  }
  return n;
}

export interface DbStats {
  xactCommit: number;
  xactRollback: number;
  /** Sessions ever established: a new connection runs one startup transaction, counted in xact_commit. */
  sessions: number;
}

/** Committed and rolled-back transactions per database, as PostgreSQL counts them (pg_stat_database). */
export async function readDbStats(databases: string[]): Promise<Record<string, DbStats>> {
  return withAdminClient(async (client) => {
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{
      datname: string;
      xact_commit: string;
      xact_rollback: string;
      sessions: string;
    }>('SELECT datname, xact_commit, xact_rollback, sessions FROM pg_stat_database WHERE datname = ANY($1)', [
      databases,
    ]);
    const out: Record<string, DbStats> = {};
    for (const r of rows) {
      out[r.datname] = {
        xactCommit: Number(r.xact_commit),
        xactRollback: Number(r.xact_rollback),
        sessions: Number(r.sessions),
      };
    }
    return out;
  });
}

/** The cluster's WAL counters (pg_stat_wal, PostgreSQL 14+): records, full-page images, bytes. */
export interface WalStats {
  records: number;
  fpi: number;
  bytes: number;
}

/** pg_stat_wal now, or undefined where PostgreSQL has no such view (before 14). */
export async function readWalStats(): Promise<WalStats | undefined> {
  return withAdminClient(async (client) => {
    try {
      const { rows } = await client.query<{ wal_records: string; wal_fpi: string; wal_bytes: string }>(
        'SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal',
      );
      const r = rows[0];
      return { records: Number(r.wal_records), fpi: Number(r.wal_fpi), bytes: Number(r.wal_bytes) };
    } catch {
      return undefined;
    }
  });
}

/** Pids of the PostgreSQL backends connected to these databases (to sample their CPU). */
export async function backendPids(databases: string[]): Promise<number[]> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
      [databases],
    );
    return rows.map((r) => r.pid);
  });
}
