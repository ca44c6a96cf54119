import { DataSource } from 'typeorm';
import { dataSourceOptions, type EntityDeclaration, type MigrationClass } from './database';

/** An initialised in-memory SQLite DataSource with these tables, migrated as in production (for unit specs). */
export async function inMemoryDataSource(schema: {
  entities: EntityDeclaration[];
  migrations: MigrationClass[];
}): Promise<DataSource> {
  return new DataSource(dataSourceOptions({ kind: 'sqlite', file: ':memory:' }, schema)).initialize();
}
