import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type CustomerSeed, PaymentsService } from './payments.service';

/** The demo's customers. carol's credit is too low for the demo order. */
export const DEMO_CUSTOMERS: readonly CustomerSeed[] = [
  { id: 'alice', creditLimit: 1000 },
  { id: 'bob', creditLimit: 1000 },
  { id: 'carol', creditLimit: 10 },
];

/** Creates the demo customers at startup if they are missing (before any command is consumed). */
@Injectable()
export class CustomerSeeder implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly payments: PaymentsService,
  ) {}

  onModuleInit(): Promise<void> {
    return this.payments.seedCustomers(this.dataSource.manager, DEMO_CUSTOMERS);
  }
}
