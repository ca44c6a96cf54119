import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { SAGA_TABLES } from '../saga.entities';

const INDEX = 'IDX_saga_step_log_saga_id';

/**
 * Drops the step log's index on `saga_id`, which `CreateSagaTables1760000000000` made: the unique index
 * `UQ_saga_step_log_entry (saga_id, step, phase, attempt)` starts with `saga_id` and serves the same lookups (a
 * saga's history, retention's deletes by saga). One index fewer to update for every history row — and a
 * random-keyed one: with 20,000 finished sagas in the tables, each transition touched another of its leaf pages,
 * which after a checkpoint costs a full-page image in the WAL. Idempotent (MySQL/MariaDB commit DDL at once).
 */
export class DropStepLogSagaIdIndex1760000000100 implements MigrationInterface {
  name = 'DropStepLogSagaIdIndex1760000000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const table = (queryRunner.dataSource.options.entityPrefix ?? '') + SAGA_TABLES.stepLog;
    const found = await queryRunner.getTable(table);
    if (found?.indices.some((i) => i.name === INDEX)) await queryRunner.dropIndex(table, INDEX);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const table = (queryRunner.dataSource.options.entityPrefix ?? '') + SAGA_TABLES.stepLog;
    const found = await queryRunner.getTable(table);
    if (found && !found.indices.some((i) => i.name === INDEX)) {
      await queryRunner.createIndex(table, new TableIndex({ name: INDEX, columnNames: ['saga_id'] }));
    }
  }
}
