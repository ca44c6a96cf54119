import {
  Table,
  TableIndex,
  TableUnique,
  type MigrationInterface,
  type QueryRunner,
  type TableColumnOptions,
} from 'typeorm';
import { MYSQL_TYPES, SAGA_TABLES, sagaColumnTypes } from '../saga.entities';

/**
 * Creates the four saga tables with TypeORM's portable schema API, so one migration serves PostgreSQL,
 * MySQL/MariaDB and SQLite. Names, types and indexes match `sagaEntitiesFor(type)` (`sagaColumnTypes`).
 *
 * MySQL/MariaDB commit each DDL statement at once: a migration that fails part-way (a lost connection) keeps the
 * tables it created, and is not recorded as run. There, each table (indexes included) is one CREATE TABLE, made
 * only if missing, so that running the migration again completes the schema.
 */
export class CreateSagaTables1760000000000 implements MigrationInterface {
  name = 'CreateSagaTables1760000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const prefix = queryRunner.dataSource.options.entityPrefix ?? '';
    const { type } = queryRunner.dataSource.options;
    const types = sagaColumnTypes(type);
    const ifMissing = MYSQL_TYPES.includes(type);
    const epochMs = (name: string, isNullable = false): TableColumnOptions => ({
      name,
      type: 'bigint',
      isNullable,
    });
    const varchar = (name: string, length: number, isNullable = false): TableColumnOptions => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable,
      collation: types.collation,
    });
    const text = (name: string, isNullable = false): TableColumnOptions => ({
      name,
      type: types.text,
      isNullable,
      collation: types.collation,
    });
    const autoIncrementId = (table: string): TableColumnOptions => ({
      name: 'id',
      type: types.id,
      isPrimary: true,
      primaryKeyConstraintName: `PK_${table}`,
      isGenerated: true,
      generationStrategy: 'increment',
    });

    await queryRunner.createTable(
      new Table({
        name: prefix + SAGA_TABLES.instance,
        columns: [
          { ...varchar('id', 36), isPrimary: true, primaryKeyConstraintName: 'PK_saga_instance' },
          varchar('type', 200),
          { name: 'definition_version', type: 'integer' },
          varchar('status', 32),
          varchar('current_step', 200),
          { name: 'step_index', type: 'integer' },
          varchar('phase', 16),
          { name: 'attempt', type: 'integer' },
          { name: 'awaiting', type: 'boolean' },
          { name: 'in_doubt', type: 'boolean' },
          epochMs('wake_at', true),
          epochMs('deadline_at', true),
          epochMs('due_at', true),
          text('data'),
          text('last_error', true),
          { name: 'version', type: 'integer' },
          varchar('idempotency_key', 200, true),
          epochMs('created_at'),
          epochMs('updated_at'),
        ],
        uniques: [
          new TableUnique({ name: 'UQ_saga_instance_idempotency_key', columnNames: ['idempotency_key'] }),
        ],
        indices: [
          new TableIndex({ name: 'IDX_saga_instance_due_at', columnNames: ['due_at'] }),
          new TableIndex({
            name: 'IDX_saga_instance_status_updated_at',
            columnNames: ['status', 'updated_at'],
          }),
        ],
      }),
      ifMissing,
    );

    await queryRunner.createTable(
      new Table({
        name: prefix + SAGA_TABLES.stepLog,
        columns: [
          autoIncrementId(SAGA_TABLES.stepLog),
          varchar('saga_id', 36),
          varchar('step', 200),
          varchar('phase', 32),
          { name: 'attempt', type: 'integer' },
          varchar('outcome', 32),
          text('detail', true),
          epochMs('at'),
        ],
        uniques: [
          new TableUnique({
            name: 'UQ_saga_step_log_entry',
            columnNames: ['saga_id', 'step', 'phase', 'attempt'],
          }),
        ],
        indices: [new TableIndex({ name: 'IDX_saga_step_log_saga_id', columnNames: ['saga_id'] })],
      }),
      ifMissing,
    );

    await queryRunner.createTable(
      new Table({
        name: prefix + SAGA_TABLES.outbox,
        columns: [
          autoIncrementId(SAGA_TABLES.outbox),
          varchar('message_id', 64),
          text('body'),
          epochMs('created_at'),
          epochMs('sent_at', true),
          epochMs('claimed_until', true),
          { name: 'attempts', type: 'integer', default: 0 },
          text('last_error', true),
        ],
        uniques: [new TableUnique({ name: 'UQ_saga_outbox_message_id', columnNames: ['message_id'] })],
        indices: [new TableIndex({ name: 'IDX_saga_outbox_sent_at_id', columnNames: ['sent_at', 'id'] })],
      }),
      ifMissing,
    );

    await queryRunner.createTable(
      new Table({
        name: prefix + SAGA_TABLES.inbox,
        columns: [
          { ...varchar('consumer', 200), isPrimary: true, primaryKeyConstraintName: 'PK_saga_inbox' },
          { ...varchar('message_id', 64), isPrimary: true, primaryKeyConstraintName: 'PK_saga_inbox' },
          epochMs('processed_at'),
        ],
      }),
      ifMissing,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const prefix = queryRunner.dataSource.options.entityPrefix ?? '';
    for (const table of [SAGA_TABLES.inbox, SAGA_TABLES.outbox, SAGA_TABLES.stepLog, SAGA_TABLES.instance]) {
      await queryRunner.dropTable(prefix + table, true, true, true);
    }
  }
}
