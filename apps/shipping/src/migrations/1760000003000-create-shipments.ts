import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';
import { timestampColumns, uuidColumn } from '../../../shared/src/migration-columns';

export class CreateShipments1760000003000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'shipments',
        columns: [
          uuidColumn('id', true),
          uuidColumn('order_id'),
          { name: 'country', type: 'varchar', length: '2' },
          { name: 'address', type: 'varchar', length: '500' },
          { name: 'status', type: 'varchar', length: '16' },
          ...timestampColumns(queryRunner),
        ],
        uniques: [{ name: 'UQ_shipments_order_id', columnNames: ['order_id'] }],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('shipments');
  }
}
