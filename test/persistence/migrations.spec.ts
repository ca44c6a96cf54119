import type { DataSource } from 'typeorm';
import { sagaEntitiesFor, TypeOrmSagaStore } from '../../libs/saga/src/persistence/typeorm';
import { testDatabases } from './databases';
import { instance } from './fixtures';

const TABLES = ['saga_instance', 'saga_step_log', 'saga_outbox', 'saga_inbox'];

describe.each(testDatabases('saga_migrations'))('saga tables on $name', (db) => {
  let dataSource: DataSource | undefined;

  afterEach(async () => {
    await dataSource?.destroy();
    dataSource = undefined;
  });

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
    expect(applied.map((m) => m.name)).toEqual(['CreateSagaTables1760000000000']);
    expect(Object.values(await tables(dataSource))).toEqual([true, true, true, true]);

    await dataSource.undoLastMigration();
    expect(Object.values(await tables(dataSource))).toEqual([false, false, false, false]);

    await dataSource.runMigrations();
    expect(Object.values(await tables(dataSource))).toEqual([true, true, true, true]);
  });

  it('creates exactly the schema the entities declare (nothing left for synchronize or migration:generate)', async () => {
    dataSource = await db.open({
      entities: sagaEntitiesFor(db.name === 'sqlite' ? 'better-sqlite3' : 'postgres'),
    });
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
      const definition: { sql: string }[] =
        db.name === 'sqlite'
          ? await runner.query(`SELECT sql FROM sqlite_master WHERE name = 'IDX_saga_outbox_sent_at_id'`)
          : await runner.query(
              `SELECT indexdef AS sql FROM pg_indexes WHERE indexname = 'IDX_saga_outbox_sent_at_id'`,
            );
      expect(definition[0].sql.replace(/"/g, '')).toMatch(/\(sent_at, id\)/);
      const inbox = (await runner.getTable('saga_inbox'))!;
      expect(inbox.primaryColumns.map((c) => c.name).sort()).toEqual(['consumer', 'message_id']);
    } finally {
      await runner.release();
    }
  });

  it('gives a working schema with synchronize: true', async () => {
    const type = db.name === 'sqlite' ? 'better-sqlite3' : 'postgres';
    dataSource = await db.open({ entities: sagaEntitiesFor(type), synchronize: true });
    expect(Object.values(await tables(dataSource))).toEqual([true, true, true, true]);

    const store = new TypeOrmSagaStore(dataSource);
    const record = instance({ wakeAt: 5_000 });
    await store.insertInstance(dataSource.manager, record);
    expect(await store.findInstance(dataSource.manager, record.id)).toEqual(record);
    const [row] = await store.insertOutbox(dataSource.manager, [{ messageId: 'm-1', body: '{}' }]);
    expect(row.id).toMatch(/^\d+$/);
    expect(await store.claimUnsent(Date.now() + 1, 10, 1000)).toHaveLength(1);
  });
});
