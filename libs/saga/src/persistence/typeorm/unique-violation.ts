const UNIQUE_VIOLATION_CODES: ReadonlySet<string> = new Set([
  '23505', // PostgreSQL unique_violation
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
  'ER_DUP_ENTRY', // MySQL / MariaDB (errno 1062)
]);

/**
 * True when `error` (a TypeORM `QueryFailedError` or the driver's own error) is a unique-key or primary-key
 * violation on PostgreSQL, SQLite (better-sqlite3) or MySQL/MariaDB. On PostgreSQL such an error also aborts
 * the surrounding transaction: retry the whole transaction, not the statement.
 */
export function isUniqueViolation(error: unknown): boolean {
  for (let current = error, depth = 0; isObject(current) && depth < 5; depth++) {
    if (typeof current.code === 'string' && UNIQUE_VIOLATION_CODES.has(current.code)) return true;
    if (current.errno === 1062) return true;
    current = current.driverError ?? current.cause;
  }
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
