import type { QueryRunner, TableColumnOptions } from 'typeorm';

/** `created_at`/`updated_at` with the types and defaults the driver uses for `@CreateDateColumn`/`@UpdateDateColumn`. */
export function timestampColumns(queryRunner: QueryRunner): TableColumnOptions[] {
  const types = queryRunner.connection.driver.mappedDataTypes;
  return [
    { name: 'created_at', type: String(types.createDate), default: types.createDateDefault },
    { name: 'updated_at', type: String(types.updateDate), default: types.updateDateDefault },
  ];
}

/** An id column holding a uuid generated in code (portable: no database extension needed). */
export function uuidColumn(name: string, primary = false): TableColumnOptions {
  return { name, type: 'varchar', length: '36', isPrimary: primary };
}

/** A money amount: 12 digits, 2 decimals. */
export function moneyColumn(name: string): TableColumnOptions {
  return { name, type: 'decimal', precision: 12, scale: 2 };
}
