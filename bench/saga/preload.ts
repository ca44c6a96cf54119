import { Client } from 'pg';
import { pgConfig } from '../lib/pg-stats';

/** Spacing of the preloaded sagas in time: 20,000 of them span ~17 minutes before the template saga. */
const SPACING_MS = 50;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

interface Column {
  name: string;
  type: string;
  serial: boolean;
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

async function withClient<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(pgConfig(database));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function tablesOf(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'migrations'
      ORDER BY table_name`,
  );
  return rows.map((r) => r.table_name);
}

async function columnsOf(client: Client, table: string): Promise<Column[]> {
  const { rows } = await client.query<{
    column_name: string;
    data_type: string;
    column_default: string | null;
  }>(
    `SELECT column_name, data_type, column_default FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => ({
    name: r.column_name,
    type: r.data_type,
    serial: r.column_default?.startsWith('nextval(') ?? false,
  }));
}

/** Every UUID found in the rows of the databases' tables (the template saga's ids and message ids). */
async function templateUuids(databases: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const db of databases) {
    await withClient(db, async (client) => {
      for (const table of await tablesOf(client)) {
        const { rows } = await client.query<{ j: string }>(
          `SELECT row_to_json(t)::text AS j FROM ${ident(table)} t`,
        );
        for (const { j } of rows) for (const u of j.match(UUID) ?? []) found.add(u);
      }
    });
  }
  return [...found];
}

/**
 * Copies the rows of the one finished saga the databases hold (the template) `count` times, in each table that has
 * rows mentioning its ids: every UUID of the template (saga id, order, payment and shipment ids, message ids, in
 * columns and inside JSON bodies alike) is replaced by `md5(uuid:i)` for copy `i` — the same in every database, so
 * the copies link up across services as real ones do — and every timestamp (epoch-ms `bigint` columns and
 * `timestamp` columns) is moved `SPACING_MS * (count - i + 1)` ms into the past. Auto-increment ids are generated.
 * Tables without such rows (customers, migrations) are left alone. Then VACUUM ANALYZE, as autovacuum would have
 * done on tables that grew over time.
 */
async function copyTemplate(
  database: string,
  uuids: string[],
  count: number,
): Promise<Record<string, number>> {
  const inserted: Record<string, number> = {};
  await withClient(database, async (client) => {
    const tables: string[] = [];
    await client.query('BEGIN');
    for (const table of await tablesOf(client)) {
      const columns = (await columnsOf(client, table)).filter((c) => !c.serial);
      let json = 'tpl.j';
      for (const u of uuids) json = `replace(${json}, '${u}', md5('${u}:' || g.i)::uuid::text)`;
      const delta = `(-(${count} - g.i + 1)::bigint * ${SPACING_MS})`;
      const expr = (c: Column): string => {
        const v = `r.${ident(c.name)}`;
        if (c.type === 'bigint') return `CASE WHEN ${v} > 1000000000000 THEN ${v} + ${delta} ELSE ${v} END`;
        if (c.type.startsWith('timestamp')) return `${v} + ${delta} * interval '1 millisecond'`;
        return v;
      };
      const template = `SELECT row_to_json(t)::text AS j FROM ${ident(table)} t WHERE row_to_json(t)::text ~ $1`;
      // The record is built in FROM (LATERAL), once per row: `(f(x)).col` in the SELECT list would call f per column.
      const sql =
        `INSERT INTO ${ident(table)} (${columns.map((c) => ident(c.name)).join(', ')}) ` +
        `SELECT ${columns.map(expr).join(', ')} ` +
        `FROM (${template}) tpl CROSS JOIN generate_series(1, ${count}) AS g(i) ` +
        `CROSS JOIN LATERAL json_populate_record(NULL::${ident(table)}, (${json})::json) AS r`;
      const t0 = Date.now();
      const { rowCount } = await client.query(sql, [uuids.join('|')]);
      if (process.env.BENCH_VERBOSE === '1')
        process.stderr.write(`  ${database}.${table}: ${Date.now() - t0} ms\n`);
      if (rowCount) {
        inserted[table] = rowCount;
        tables.push(table);
      }
    }
    const t0 = Date.now();
    await client.query('COMMIT');
    for (const table of tables) await client.query(`VACUUM ANALYZE ${ident(table)}`);
    if (process.env.BENCH_VERBOSE === '1')
      process.stderr.write(`  ${database}: commit+vacuum ${Date.now() - t0} ms\n`);
  });
  return inserted;
}

/**
 * Preloads `count` finished sagas into the databases, shaped exactly like the one real saga they must hold (run it
 * first): its instance, history, outbox and inbox rows and business rows, on every service.
 */
export async function preloadFromTemplate(databases: string[], count: number): Promise<void> {
  const t0 = Date.now();
  const uuids = await templateUuids(databases);
  if (uuids.length === 0) throw new Error('preload: no template saga in the databases');
  // The databases in parallel, one connection each.
  const inserted = await Promise.all(databases.map((db) => copyTemplate(db, uuids, count)));
  const summary = databases.map((db, i) => {
    const tables = Object.entries(inserted[i]).map(([t, n]) => `${t} +${n}`);
    return `${db}: ${tables.join(', ')}`;
  });
  process.stderr.write(
    `preloaded ${count} finished sagas in ${((Date.now() - t0) / 1000).toFixed(1)} s (${uuids.length} template ids)\n` +
      summary.map((s) => `  ${s}\n`).join(''),
  );
}
