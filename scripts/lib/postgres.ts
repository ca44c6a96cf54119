import { Client } from 'pg';

/**
 * Drops and re-creates `names` on the PostgreSQL server at `adminUrl` (a URL of an existing database,
 * normally `postgres`), so that every demo run starts from the seeded state. Returns each database's URL.
 */
export async function freshDatabases(
  adminUrl: string,
  names: readonly string[],
): Promise<Record<string, string>> {
  const client = new Client({ connectionString: adminUrl });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${adminUrl} (${String(error)}): start it, or set PG_ADMIN_URL.`,
      { cause: error },
    );
  }
  const urls: Record<string, string> = {};
  try {
    for (const name of names) {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${name}"`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      urls[name] = url.toString();
    }
  } finally {
    await client.end();
  }
  return urls;
}
