import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';
import { moneyColumn, timestampColumns, uuidColumn } from '../../../shared/src/migration-columns';

export class CreateOrders1760000001000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'orders',
        columns: [
          uuidColumn('id', true),
          { name: 'customer_id', type: 'varchar', length: '100' },
          moneyColumn('amount'),
          { name: 'country', type: 'varchar', length: '2' },
          { name: 'status', type: 'varchar', length: '16' },
          uuidColumn('saga_id'),
          ...timestampColumns(queryRunner),
        ],
      }),
    );
    await queryRunner.createIndex(
      'orders',
      new TableIndex({ name: 'IDX_orders_saga_id', columnNames: ['saga_id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('orders');
  }
}
