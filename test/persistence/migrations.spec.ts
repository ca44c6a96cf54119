import type { DataSource, QueryRunner } from 'typeorm';
import {
  CreateSagaTables1760000000000,
  DropStepLogSagaIdIndex1760000000100,
  sagaEntitiesFor,
  TypeOrmSagaStore,
} from '../../libs/saga/src/persistence/typeorm';
import { testDatabases } from './databases';
import { instance } from './fixtures';

const TABLES = ['saga_instance', 'saga_step_log', 'saga_outbox', 'saga_inbox'];
const ALL_MIGRATIONS = ['CreateSagaTables1760000000000', 'DropStepLogSagaIdIndex1760000000100'];
/** The outbox index's definition, with its columns in order, as `sql`. */
const INDEX_DEFINITION = {
  sqlite: `SELECT sql FROM sqlite_master WHERE name = 'IDX_saga_outbox_sent_at_id'`,
  postgres: `SELECT indexdef AS sql FROM pg_indexes WHERE indexname = 'IDX_saga_outbox_sent_at_id'`,
  mariadb:
    `SELECT CONCAT('(', GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ', '), ')') AS \`sql\` ` +
    `FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 'IDX_saga_outbox_sent_at_id'`,
};

/** The saga migration, failing (a lost connection, say) when it has created two of its four tables. */
class FailingAfterTwoTables extends CreateSagaTables1760000000000 {
  override up(queryRunner: QueryRunner): Promise<void> {
    let created = 0;
    const failing = new Proxy(queryRunner, {
      get: (target, property) => {
        if (property !== 'createTable') return Reflect.get(target, property, target) as unknown;
        return (...args: Parameters<QueryRunner['createTable']>) => {
          if (++created > 2) return Promise.reject(new Error('connection lost'));
          return target.createTable(...args);
        };
      },
    });
    return super.up(failing);
  }
}

describe.each(testDatabases('saga_migrations'))('saga tables on $name', (db) => {
  let dataSource: DataSource | undefined;

  afterEach(async () => {
    await dataSource?.destroy();
    dataSource = undefined;
  });

  /** The names of the step log's indexes, unique ones included. */
  async function stepLogIndexes(ds: DataSource): Promise<string[]> {
    const runner = ds.createQueryRunner();
    try {
      const table = (await runner.getTable('saga_step_log'))!;
      return [...table.indices.map((i) => i.name!), ...table.uniques.map((u) => u.name!)];
    } finally {
      await runner.release();
    }
  }

  async function tables(ds: DataSource): Promise<Record<string, boolean>> {
    const runner = ds.createQueryRunner();
    try {
      const found: Record<string, boolean> = {};
      for (const table of TABLES) found[table] = await runner.hasTable(table);
      return found;
    } finally {
      await runner.release();
    }
  }

  it('migrates up and down, and up again', async () => {
    dataSource = await db.open({ migrate: false });
    expect(await dataSource.showMigrations()).toBe(true);

    const applied = await dataSource.runMigrations();
    expect(applied.map((m) => m.name)).toEqual(ALL_MIGRATIONS);
    expect(Object.values(await tables(dataSource))).toEqual([true, true, true, true]);
    expect(await stepLogIndexes(dataSource)).not.toContain('IDX_saga_step_log_saga_id');

    await dataSource.undoLastMigration();
    expect(await stepLogIndexes(dataSource)).toContain('IDX_saga_step_log_saga_id');
    await dataSource.undoLastMigration();
    expect(Object.values(await tables(dataSource))).toEqual([false, false, false, false]);

    await dataSource.runMigrations();
    expect(Object.values(await tables(dataSource))).toEqual([true, true, true, true]);
    expect(await stepLogIndexes(dataSource)).not.toContain('IDX_saga_step_log_saga_id');
  });

  it('drops the redundant step-log index of a schema made by the first migration alone, and only once', async () => {
    dataSource = await db.open({ migrate: false });
    const runner = dataSource.createQueryRunner();
    try {
      await new CreateSagaTables1760000000000().up(runner); // a database migrated by an earlier release
      expect(await stepLogIndexes(dataSource)).toContain('IDX_saga_step_log_saga_id');
      await new DropStepLogSagaIdIndex1760000000100().up(runner);
      await new DropStepLogSagaIdIndex1760000000100().up(runner); // run again (MySQL: DDL commits at once)
      expect(await stepLogIndexes(dataSource)).not.toContain('IDX_saga_step_log_saga_id');
      expect(await stepLogIndexes(dataSource)).toContain('UQ_saga_step_log_entry');
    } finally {
      await runner.release();
    }
  });

  it('completes when run again after failing part-way (MySQL/MariaDB commit each CREATE TABLE at once)', async () => {
    dataSource = await db.open({ migrate: false });
    const runner = dataSource.createQueryRunner();
    try {
      await runner.startTransaction(); // as runMigrations() does
      await expect(new FailingAfterTwoTables().up(runner)).rejects.toThrow('connection lost');
      await runner.rollbackTransaction();
    } finally {
      await runner.release();
    }
    const left = Object.values(await tables(dataSource));
    expect(left).toEqual(db.name === 'mariadb' ? [true, true, false, false] : [false, false, false, false]);

    expect((await dataSource.runMigrations()).map((m) => m.name)).toEqual(ALL_MIGRATIONS);
    expect(Object.values(await tables(dataSource))).toEqual([true, true, true, true]);
  });

  it('creates exactly the schema the entities declare (nothing left for synchronize or migration:generate)', async () => {
    dataSource = await db.open({ entities: sagaEntitiesFor(db.type) });
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('declares the indexes the store relies on', async () => {
    dataSource = await db.open();
    const runner = dataSource.createQueryRunner();
    try {
      const instanceTable = (await runner.getTable('saga_instance'))!;
      expect(instanceTable.indices.map((i) => i.name).sort()).toEqual(
        expect.arrayContaining(['IDX_saga_instance_due_at', 'IDX_saga_instance_status_updated_at']),
      );
      // Column order matters here, and TypeORM's table loader does not keep it on PostgreSQL: ask the database.
      const definition: { sql: string }[] = await runner.query(INDEX_DEFINITION[db.name]);
      expect(definition[0].sql.replace(/"/g, '')).toMatch(/\(sent_at, id\)/);
      const inbox = (await runner.getTable('saga_inbox'))!;
      expect(inbox.primaryColumns.map((c) => c.name).sort()).toEqual(['consumer', 'message_id']);
    } finally {
      await runner.release();
    }
  });

  it('gives a working schema with synchronize: true', async () => {
    dataSource = await db.open({ entities: sagaEntitiesFor(db.type), synchronize: true });
    expect(Object.values(await tables(dataSource))).toEqual([true, true, true, true]);

    const store = new TypeOrmSagaStore(dataSource);
    const record = instance({ wakeAt: 5_000 }, { idempotencyKey: 'Key-1' });
    record.data = { text: 'é✓😀'.repeat(20_000) }; // over 64 KB, 4-byte characters included
    await store.insertInstance(dataSource.manager, record);
    expect(await store.findInstance(dataSource.manager, record.id)).toEqual(record);
    expect(await store.findInstanceByIdempotencyKey(dataSource.manager, 'key-1')).toBeNull();
    const [row] = await store.insertOutbox(dataSource.manager, [{ messageId: 'm-1', body: '{}' }]);
    expect(row.id).toMatch(/^\d+$/);
    expect(await store.claimUnsent(Date.now() + 1, 10, 1000)).toHaveLength(1);
  });
});
