import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { existsSync, writeFileSync } from 'node:fs';
import type {
  AfterQueryEvent,
  DataSource,
  EntitySubscriberInterface,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';

/**
 * TEST-ONLY failpoint, used by `test/e2e/distributed/exactly-once.spec.ts`; never set it in production.
 *
 * When `PAYMENT_CRASH_AFTER_COMMIT_ONCE=<marker file>` is set and the marker file does not exist, the first
 * transaction that inserts a payment (a `ChargePayment` handled by the participant: the payment row, the inbox
 * row and the reply's outbox row commit together) creates the marker and SIGKILLs this process right after its
 * COMMIT — before the outbox relay publishes the reply and before the command is acknowledged to RabbitMQ. It
 * simulates a crash between commit and ack deterministically; the marker makes it happen once (a test keeps it
 * disarmed by creating the marker, and arms it by deleting the marker).
 */
export const CRASH_AFTER_COMMIT_ENV = 'PAYMENT_CRASH_AFTER_COMMIT_ONCE';

/** Set on a query runner (`queryRunner.data`) once its transaction has inserted a payment. */
const CHARGE_RECORDED = 'crashAfterCommitFailpoint.chargeRecorded';

/** The payment's INSERT, however it is written (the service writes it as SQL: no entity `afterInsert` event). */
const INSERTS_PAYMENT = /^\s*INSERT\s+INTO\s+"?payments"?\s/i;

class CrashAfterCommitSubscriber implements EntitySubscriberInterface {
  constructor(private readonly marker: string) {}

  afterQuery(event: AfterQueryEvent): void {
    if (event.success && event.queryRunner && INSERTS_PAYMENT.test(String(event.query)))
      event.queryRunner.data[CHARGE_RECORDED] = true;
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive) delete event.queryRunner.data[CHARGE_RECORDED];
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const { queryRunner } = event;
    // Still active: a savepoint (the handler's own) was released, the outer transaction has not committed yet.
    if (queryRunner.isTransactionActive || queryRunner.data[CHARGE_RECORDED] !== true) return;
    delete queryRunner.data[CHARGE_RECORDED];
    if (existsSync(this.marker)) return;
    writeFileSync(this.marker, `${process.pid} crashed after commit at ${new Date().toISOString()}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/** Arms the TEST-ONLY failpoint above when its variable is set (a warning says so); otherwise does nothing. */
@Injectable()
export class CrashAfterCommitFailpoint implements OnModuleInit {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    const marker = process.env[CRASH_AFTER_COMMIT_ENV]?.trim();
    if (!marker) return;
    new Logger('CrashAfterCommitFailpoint').warn(
      `TEST-ONLY failpoint ${CRASH_AFTER_COMMIT_ENV} is set: this process kills itself after the first ` +
        `commit of a charge unless ${marker} exists.`,
    );
    this.dataSource.subscribers.push(new CrashAfterCommitSubscriber(marker));
  }
}
