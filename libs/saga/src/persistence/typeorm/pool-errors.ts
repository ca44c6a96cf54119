import type { EventEmitter } from 'node:events';
import type { DataSource } from 'typeorm';

/**
 * node-postgres emits 'error' on a pooled client whose connection the server terminates. When that happens while
 * the pool is handing the client out (the "ready" and the termination arrive in one network read), TypeORM has not
 * attached its listener yet, and the unhandled 'error' event crashes the process. A listener on every new client
 * turns it into a log line; the query that used the client still fails, and its transaction is retried.
 */
export function guardPoolErrors(dataSource: DataSource, log: (message: string) => void): void {
  if (dataSource.options.type !== 'postgres') return;
  const pool = (dataSource.driver as unknown as { master?: EventEmitter }).master;
  pool?.on('connect', (client: EventEmitter) => {
    client.on('error', (error: Error) => log(`PostgreSQL connection lost: ${error.message}`));
  });
}
