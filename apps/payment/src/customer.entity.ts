import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { decimalTransformer } from '../../shared/src/database';

/** A customer's credit line: charges take from `availableCredit`, refunds give it back. */
@Entity('customers')
export class Customer {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  id: string;

  @Column({ name: 'credit_limit', type: 'decimal', precision: 12, scale: 2, transformer: decimalTransformer })
  creditLimit: number;

  @Column({
    name: 'available_credit',
    type: 'decimal',
    precision: 12,
    scale: 2,
    transformer: decimalTransformer,
  })
  availableCredit: number;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at' })
  updatedAt: Date;
}
