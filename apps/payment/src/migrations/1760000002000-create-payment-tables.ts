import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';
import { moneyColumn, timestampColumns, uuidColumn } from '../../../shared/src/migration-columns';

export class CreatePaymentTables1760000002000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'customers',
        columns: [
          { name: 'id', type: 'varchar', length: '100', isPrimary: true },
          moneyColumn('credit_limit'),
          moneyColumn('available_credit'),
          ...timestampColumns(queryRunner),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'payments',
        columns: [
          uuidColumn('id', true),
          uuidColumn('order_id'),
          { name: 'customer_id', type: 'varchar', length: '100' },
          moneyColumn('amount'),
          { name: 'status', type: 'varchar', length: '16' },
          ...timestampColumns(queryRunner),
        ],
        uniques: [{ name: 'UQ_payments_order_id', columnNames: ['order_id'] }],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('payments');
    await queryRunner.dropTable('customers');
  }
}
