import { Column, Entity, PrimaryGeneratedColumn, Table } from 'typeorm';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { IsInt, IsString, Length, Min } from 'class-validator';
import {
  Compensation,
  HandleCommand,
  OnReply,
  SagaOrchestration,
  SagaParticipant,
  Step,
  StepFailure,
} from 'nestjs-saga';
import type { Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSourceOptions } from 'typeorm';
import type { Client as PgClient } from 'pg';
import { SagaModule, sagaEntities, sagaMigrations } from 'nestjs-saga';
import type { CommandContext, SagaContext, SagaModuleOptions, SagaView } from 'nestjs-saga';

/** One row per business effect, so tests can count effects. */
@Entity('test_ledger')
export class LedgerRow {
  @PrimaryGeneratedColumn()
  id: number;
  @Column()
  sagaId: string;
  @Column()
  kind: string;
}

export class CreateTestLedger1760000000001 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'test_ledger',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'sagaId', type: 'varchar', length: '36' },
          { name: 'kind', type: 'varchar', length: '32' },
        ],
      }),
    );
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('test_ledger');
  }
}

export class TransferData {
  @IsString()
  @Length(1, 20)
  account: string;
  @IsInt()
  @Min(1)
  amount: number;
  @IsString()
  country: string;
  debitId?: string;
  /** Test knob: the local `reserve` step throws a transient error this many times first. */
  reserveFailures?: number;
}

/** Knobs shared by the fixture's participants within one test module. */
export class Flakiness {
  debitFailures = 0;
  debitCalls = 0;
  /** Credit (the debit's compensation) fails transiently this many times. */
  creditFailures = 0;
}

@SagaOrchestration({ name: 'transfer', data: TransferData })
export class TransferSaga {
  @Step(1)
  async reserve(ctx: SagaContext<TransferData>): Promise<void> {
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: 'reserved' });
    if ((ctx.data.reserveFailures ?? 0) >= ctx.attempt) throw new Error('database hiccup');
  }
  @Compensation('reserve')
  async release(ctx: SagaContext<TransferData>): Promise<void> {
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: 'released' });
  }

  @Step(2, { participant: 'bank', command: 'Debit' })
  debit(ctx: SagaContext<TransferData>) {
    return { account: ctx.data.account, amount: ctx.data.amount };
  }
  @OnReply('debit')
  debited(ctx: SagaContext<TransferData>, reply: { debitId: string }): void {
    ctx.data.debitId = reply.debitId;
  }
  @Compensation('debit', { command: 'Credit', retry: { attempts: 2, initialDelayMs: 10 } })
  credit(ctx: SagaContext<TransferData>) {
    return { debitId: ctx.data.debitId };
  }

  @Step(3, { participant: 'notifier', command: 'Notify', pivot: true })
  notify(ctx: SagaContext<TransferData>) {
    return { country: ctx.data.country };
  }

  @Step(4)
  async finish(ctx: SagaContext<TransferData>): Promise<void> {
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: 'finished' });
  }
}

@SagaParticipant('bank')
export class BankParticipant {
  constructor(private readonly flaky: Flakiness) {}

  @HandleCommand('Debit')
  async debit(cmd: { account: string; amount: number }, ctx: CommandContext) {
    this.flaky.debitCalls++;
    if (this.flaky.debitFailures > 0) {
      this.flaky.debitFailures--;
      throw new Error('bank is briefly unavailable');
    }
    if (cmd.amount > 100) return new StepFailure('insufficient funds');
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: 'debited' });
    return { debitId: `debit-${ctx.sagaId}` };
  }

  @HandleCommand('Credit')
  async credit(_cmd: { debitId: string }, ctx: CommandContext): Promise<void> {
    if (this.flaky.creditFailures > 0) {
      this.flaky.creditFailures--;
      throw new Error('ledger locked');
    }
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: 'credited' });
  }
}

@SagaParticipant('notifier')
export class NotifierParticipant {
  @HandleCommand('Notify')
  async notify(cmd: { country: string }, ctx: CommandContext): Promise<void> {
    // Writes first, then fails: the savepoint must undo the write.
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: 'notified' });
    if (cmd.country === 'XX') throw new StepFailure(`cannot notify ${cmd.country}`);
  }
}

/** A saga's history as `step/phase/attempt/outcome` lines. */
export const timeline = (view: SagaView<object>): string[] =>
  view.history.map((h) => `${h.step}/${h.phase}/${h.attempt}/${h.outcome}`);

/** Boots an app with the transfer saga, its participants and `extra` providers on `db` (migrated), and inits it. */
export async function bootTransferApp(
  db: DataSourceOptions,
  saga: SagaModuleOptions,
  extra: Provider[] = [],
): Promise<TestingModule> {
  return bootApp(db, saga, [TransferSaga, BankParticipant, NotifierParticipant, Flakiness, ...extra]);
}

/** Boots (compiles and initialises) an application of `providers` with the saga tables and `test_ledger` on `db`. */
export async function bootApp(
  db: DataSourceOptions,
  saga: SagaModuleOptions,
  providers: Provider[],
): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        ...db,
        entities: [...sagaEntities, LedgerRow],
        migrations: [...sagaMigrations, CreateTestLedger1760000000001],
        migrationsRun: true,
      }),
      SagaModule.forRoot(saga),
    ],
    providers,
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

/**
 * Holds `consumer`'s inbox row of `messageId` in an open transaction of `client` (another connection): the
 * application's inbox statement for that message then waits until `client` commits (a duplicate) or rolls back.
 */
export async function holdInboxRow(client: PgClient, consumer: string, messageId: string): Promise<void> {
  await client.query('BEGIN');
  await client.query(`INSERT INTO saga_inbox (consumer, message_id, processed_at) VALUES ($1, $2, $3)`, [
    consumer,
    messageId,
    Date.now(),
  ]);
}
