import type { DataSource, EntityManager } from 'typeorm';
import { SagaError } from '../../errors/saga.errors';
import { SAGA_ENTITY_NAMES } from './saga.entities';
import { PREPARED_MAX_PARAMS, PREPARED_MAX_STATEMENTS, preparedStatementName } from './prepared-statements';

/** The SQL dialects the store speaks. */
export type SqlFamily = 'postgres' | 'mysql' | 'sqlite';

const FAMILIES: Readonly<Record<string, SqlFamily>> = {
  postgres: 'postgres',
  'aurora-postgres': 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  'aurora-mysql': 'mysql',
  'better-sqlite3': 'sqlite',
  sqljs: 'sqlite',
};

export type Row = Record<string, unknown>;

export interface SqlResult {
  rows: Row[];
  /** Rows inserted, updated or deleted (or returned, for a statement with RETURNING on SQLite). */
  affected: number;
}

type TableKey = keyof typeof SAGA_ENTITY_NAMES;

/** Compiled statements kept by one `SagaSql`. */
const COMPILED_CACHE_SIZE = 2000;

/**
 * A statement PostgreSQL prepares once per connection, by name (the `pg` driver parses it on first use and then only
 * binds and executes it). TypeORM hands it to `pg` as is; its logger and query subscribers see it as the SQL text:
 * it inherits `String.prototype`'s methods, which read it through `toString()`. Not a `String` object: `pg` copies
 * a query config's own properties, and a `String` object has one per character.
 */
export class NamedStatement {
  declare readonly length: number;

  constructor(
    readonly text: string,
    readonly name: string,
  ) {
    // Defined, not assigned: `String.prototype.length` is read-only.
    Object.defineProperty(this, 'length', { value: text.length, enumerable: true });
  }

  toString(): string {
    return this.text;
  }

  valueOf(): string {
    return this.text;
  }
}
Object.setPrototypeOf(NamedStatement.prototype, String.prototype);

/** SQL as `execute` takes it: text, or a statement prepared by name. */
export type CompiledSql = string | NamedStatement;

/**
 * Adapts the store's SQL to one DataSource. Statements are written once, with `?` placeholders, unquoted column
 * names (none is a reserved word on the three databases) and `{instance}`, `{stepLog}`, `{outbox}`, `{inbox}` for
 * the tables — resolved from the entity metadata, so a DataSource `schema` or `entityPrefix` is honoured.
 */
export class SagaSql {
  readonly family: SqlFamily;
  private readonly tables: Record<TableKey, string>;
  private readonly compiled = new Map<string, CompiledSql>();
  /** Names of the statements this instance prepares (see `PREPARED_MAX_STATEMENTS`). */
  private readonly named = new Set<string>();

  /**
   * @param preparedStatements PostgreSQL: prepare the store's statements by name (see `PREPARED_MAX_PARAMS`).
   *   Turn off behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
   */
  constructor(
    dataSource: DataSource,
    private readonly preparedStatements = true,
  ) {
    const family = FAMILIES[dataSource.options.type];
    if (!family) {
      throw new SagaError(
        `The saga store does not support the '${dataSource.options.type}' driver. ` +
          `Use postgres, mysql, mariadb, better-sqlite3 or sqljs.`,
      );
    }
    this.family = family;
    const table = (key: TableKey): string => {
      const name = SAGA_ENTITY_NAMES[key];
      if (!dataSource.hasMetadata(name)) {
        throw new SagaError(
          `The DataSource has no '${name}' entity. Add 'sagaEntities' to its 'entities' ` +
            `(and 'sagaMigrations' to its 'migrations'), and initialise it before creating the saga store.`,
        );
      }
      const path = dataSource.getMetadata(name).tablePath;
      return path
        .split('.')
        .map((part) => dataSource.driver.escape(part))
        .join('.');
    };
    this.tables = {
      instance: table('instance'),
      stepLog: table('stepLog'),
      outbox: table('outbox'),
      inbox: table('inbox'),
    };
  }

  /**
   * Resolves table names and, on PostgreSQL, numbers the placeholders (`$1`, `$2`…) and names small statements so
   * that each connection prepares them once; remembers the result.
   */
  compile(text: string): CompiledSql {
    let compiled = this.compiled.get(text);
    if (compiled === undefined) {
      compiled = this.translate(text);
      // Statements vary by batch size only: a few hundred shapes. Start over if something keeps adding new ones.
      if (this.compiled.size >= COMPILED_CACHE_SIZE) this.compiled.clear();
      this.compiled.set(text, compiled);
    }
    return compiled;
  }

  /** `text` with its `{table}` names resolved, nothing else changed (for SQL without parameters). */
  tablesIn(text: string): string {
    return text.replace(/\{(instance|stepLog|outbox|inbox)\}/g, (_, key: TableKey) => this.tables[key]);
  }

  private translate(text: string): CompiledSql {
    const resolved = this.tablesIn(text);
    if (this.family !== 'postgres') return resolved;
    let n = 0;
    const numbered = resolved.replace(/\?/g, () => `$${++n}`);
    if (!this.preparedStatements || n > PREPARED_MAX_PARAMS) return numbered;
    const name = preparedStatementName('saga', numbered);
    if (!this.named.has(name)) {
      if (this.named.size >= PREPARED_MAX_STATEMENTS) return numbered;
      this.named.add(name);
    }
    return new NamedStatement(numbered, name);
  }

  /** Database ids for bigint columns: strings on PostgreSQL (exact), numbers elsewhere (SQLite compares by type). */
  ids(ids: readonly string[]): (string | number)[] {
    return this.family === 'postgres' ? [...ids] : ids.map(Number);
  }
}

/** `?, ?, ?` */
export function list(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

/** `(?, ?), (?, ?)` for `rows` rows of `columns` values. */
export function values(rows: number, columns: number): string {
  const row = `(${list(columns)})`;
  return Array.from({ length: rows }, () => row).join(', ');
}

/** Splits `items` into chunks that keep a statement under every driver's bound-parameter limit. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

/**
 * Runs one statement on `manager`'s connection (its transaction, if any) and reports rows and affected rows
 * the same way on every driver.
 */
export async function execute(
  manager: EntityManager,
  sql: CompiledSql,
  params: readonly unknown[],
): Promise<SqlResult> {
  const own = manager.queryRunner ? undefined : manager.dataSource.createQueryRunner();
  const runner = manager.queryRunner ?? own!;
  try {
    // TypeORM hands the query to `pg` as is: a named one (an object with `text` and `name`) is prepared once.
    const result = await runner.query(sql as string, [...params], true);
    const rows = (Array.isArray(result.records) ? result.records : []) as Row[];
    return { rows, affected: result.affected ?? rows.length };
  } finally {
    await own?.release();
  }
}

export function str(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function bool(value: unknown): boolean {
  return value === true || value === 1 || value === '1';
}

export function json<T>(value: unknown): T | null {
  return value === null || value === undefined ? null : (JSON.parse(str(value)) as T);
}
