import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import {
  IdempotencyKeyConflictError,
  InProcessTransport,
  SagaDefinitionError,
  SagaManager,
  SagaModule,
  SagaOrchestration,
  SagaTimeoutError,
  SagaValidationError,
  Step,
  sagaEntities,
  sagaMigrations,
} from 'nestjs-saga';
import { SagaTransactions } from '../../libs/saga/src/persistence/typeorm/transactions';
import { dataSourceOptions } from '../support/databases';
import type { DbKind } from '../support/databases';
import {
  Flakiness,
  LedgerRow,
  TransferData,
  TransferSaga,
  bootTransferApp,
  timeline,
} from './transfer-saga.fixture';

@SagaOrchestration({ name: 'other' })
class OtherSaga {
  @Step(1)
  only(): void {}
}

const DATABASES: DbKind[] = ['sqlite', 'postgres', 'mariadb'];

describe.each(DATABASES)('saga runtime, in-process transport, on %s', (kind) => {
  let moduleRef: TestingModule;
  let sagas: SagaManager;
  let transport: InProcessTransport;
  let flaky: Flakiness;
  let dbOptions: Awaited<ReturnType<typeof dataSourceOptions>>;

  beforeAll(async () => {
    dbOptions = await dataSourceOptions(kind, 'saga_runtime_test');
  });

  async function boot(options: { consume?: boolean; implicitJoin?: boolean } = {}): Promise<void> {
    transport = new InProcessTransport({ retryDelayMs: 10 });
    moduleRef = await bootTransferApp(
      dbOptions,
      {
        service: 'bank-app',
        transport,
        timerIntervalMs: 20,
        consume: options.consume,
        database: options.implicitJoin === undefined ? undefined : { implicitJoin: options.implicitJoin },
      },
      [OtherSaga],
    );
    sagas = moduleRef.get(SagaManager);
    flaky = moduleRef.get(Flakiness);
  }

  afterEach(async () => {
    await moduleRef?.close();
  });

  const ledger = async (sagaId: string) =>
    (await moduleRef.get(DataSource).getRepository(LedgerRow).findBy({ sagaId })).map((r) => r.kind).sort();

  const transfer = (over: Partial<TransferData> = {}): TransferData => ({
    account: 'acc-1',
    amount: 50,
    country: 'FR',
    ...over,
  });

  it('completes the happy path and records every transition in order', async () => {
    await boot();
    const id = await sagas.start(TransferSaga, transfer());
    const view = await sagas.waitFor<TransferData>(id, { timeoutMs: 10_000 });
    expect(view.status).toBe('COMPLETED');
    expect(view.data.debitId).toBe(`debit-${id}`);
    expect(timeline(view)).toEqual([
      'reserve/invoke/1/succeeded',
      'debit/invoke/1/sent',
      'debit/reply/1/succeeded',
      'notify/invoke/1/sent',
      'notify/reply/1/succeeded',
      'finish/invoke/1/succeeded',
    ]);
    expect(await ledger(id)).toEqual(['debited', 'finished', 'notified', 'reserved']);
  });

  it('compensates the completed steps when a participant declines (business failure, no retry)', async () => {
    await boot();
    const id = await sagas.start(TransferSaga, transfer({ amount: 500 }));
    const view = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(view.status).toBe('COMPENSATED');
    expect(view.lastError).toMatchObject({
      name: 'StepFailure',
      message: 'insufficient funds',
      transient: false,
    });
    expect(timeline(view)).toEqual([
      'reserve/invoke/1/succeeded',
      'debit/invoke/1/sent',
      'debit/reply/1/failed',
      'reserve/compensate/1/succeeded',
    ]);
    expect(await ledger(id)).toEqual(['released', 'reserved']);
  });

  it('compensates in reverse order when the pivot fails, and undoes the failing handler’s own writes', async () => {
    await boot();
    const id = await sagas.start(TransferSaga, transfer({ country: 'XX' }));
    const view = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(view.status).toBe('COMPENSATED');
    expect(timeline(view)).toEqual([
      'reserve/invoke/1/succeeded',
      'debit/invoke/1/sent',
      'debit/reply/1/succeeded',
      'notify/invoke/1/sent',
      'notify/reply/1/failed',
      'debit/compensate/1/sent',
      'debit/compensate-reply/1/succeeded',
      'reserve/compensate/1/succeeded',
    ]);
    expect(await ledger(id)).toEqual(['credited', 'debited', 'released', 'reserved']);
  });

  it('retries a transient participant failure with backoff, then goes on', async () => {
    await boot();
    flaky.debitFailures = 2;
    const id = await sagas.start(TransferSaga, transfer());
    const view = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(view.status).toBe('COMPLETED');
    expect(flaky.debitCalls).toBe(3);
    expect(timeline(view).filter((t) => t.startsWith('debit/'))).toEqual([
      'debit/invoke/1/sent',
      'debit/reply/1/failed',
      'debit/invoke/2/sent',
      'debit/reply/2/failed',
      'debit/invoke/3/sent',
      'debit/reply/3/succeeded',
    ]);
    expect(await ledger(id)).toEqual(['debited', 'finished', 'notified', 'reserved']);
  });

  it('retries a local step that throws a transient error, rolling back its writes each time', async () => {
    await boot();
    const id = await sagas.start(TransferSaga, transfer({ reserveFailures: 1 }));
    const view = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(view.status).toBe('COMPLETED');
    expect(timeline(view).slice(0, 2)).toEqual(['reserve/invoke/1/failed', 'reserve/invoke/2/succeeded']);
    expect((await ledger(id)).filter((k) => k === 'reserved')).toHaveLength(1);
  });

  it('rejects invalid start data with the fields at fault and persists nothing', async () => {
    await boot();
    const error = await sagas
      .start(TransferSaga, { account: '', amount: -3, country: 'FR' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SagaValidationError);
    expect((error as SagaValidationError).fields.map((f) => f.property).sort()).toEqual([
      'account',
      'amount',
    ]);
    expect((await sagas.list()).filter((v) => v.data.amount === -3)).toEqual([]);
  });

  it('is idempotent by key, and refuses a key reused for another saga type', async () => {
    await boot();
    const key = `order-${randomUUID()}`;
    const first = await sagas.start(TransferSaga, transfer(), { idempotencyKey: key });
    const second = await sagas.start(TransferSaga, transfer({ amount: 99 }), { idempotencyKey: key });
    expect(second).toBe(first);
    await expect(sagas.start(OtherSaga, {}, { idempotencyKey: key })).rejects.toBeInstanceOf(
      IdempotencyKeyConflictError,
    );
    expect((await sagas.find<TransferData>(first))!.data.amount).toBe(50);
  });

  it('runs a redelivered or duplicated command (same messageId) only once', async () => {
    await boot();
    const id = await sagas.start(TransferSaga, transfer());
    expect((await sagas.waitFor(id, { timeoutMs: 10_000 })).status).toBe('COMPLETED');
    const all = await moduleRef.get(DataSource).query<{ body: string }[]>(`SELECT body FROM saga_outbox`);
    const rows = all.filter((r) => r.body.includes(`"kind":"command","type":"Debit","sagaId":"${id}"`));
    expect(rows).toHaveLength(1);
    const message = JSON.parse(rows[0].body) as Parameters<InProcessTransport['publish']>[0][0]['message'];
    expect(message).toMatchObject({ kind: 'command', type: 'Debit', sagaId: id });
    await transport.publish([
      { message, body: rows[0].body },
      { message, body: rows[0].body },
    ]);
    await new Promise((r) => setTimeout(r, 200));
    expect(flaky.debitCalls).toBe(1);
    expect((await ledger(id)).filter((k) => k === 'debited')).toHaveLength(1);
    expect(transport.deadLetters).toEqual([]);
  });

  it('starts concurrent sagas together (one transaction) and keeps each one idempotent', async () => {
    await boot();
    const key = `batch-${randomUUID()}`;
    const ids = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => sagas.start(TransferSaga, transfer({ amount: 1 + i }))),
      ...Array.from({ length: 5 }, () => sagas.start(TransferSaga, transfer(), { idempotencyKey: key })),
    ]);
    const started = ids.slice(0, 20);
    expect(new Set(started).size).toBe(20);
    expect(new Set(ids.slice(20)).size).toBe(1);
    await expect(sagas.start(OtherSaga, {}, { idempotencyKey: key })).rejects.toBeInstanceOf(
      IdempotencyKeyConflictError,
    );
    const views = await Promise.all(
      [...started, ids[20]].map((id) => sagas.waitFor(id, { timeoutMs: 20_000 })),
    );
    expect(views.every((v) => v.status === 'COMPLETED')).toBe(true);
  });

  it("joins the caller's transaction when start() is called inside one: nothing is kept or sent if it rolls back", async () => {
    await boot();
    const transactions = moduleRef.get(SagaTransactions, { strict: false });
    const dataSource = moduleRef.get(DataSource);
    let rolledBackId = '';
    let unrelated: Promise<string> | undefined;
    // Another request's start(), made in the same turn of the event loop, but from outside the transaction.
    const startElsewhere = AsyncResource.bind(() => sagas.start(TransferSaga, transfer({ amount: 8 })));
    await expect(
      transactions.run(async (manager) => {
        unrelated = startElsewhere();
        rolledBackId = await sagas.start(TransferSaga, transfer({ amount: 7 }));
        const rows: unknown[] = await manager.query(
          'SELECT 1 FROM saga_instance WHERE id = ' + placeholder(),
          [rolledBackId],
        );
        expect(rows).toHaveLength(1); // written in the caller's transaction
        throw new Error('the caller failed');
      }),
    ).rejects.toThrow('the caller failed');
    const unrelatedView = await sagas.waitFor(await unrelated!, { timeoutMs: 10_000 });
    expect(unrelatedView.status).toBe('COMPLETED');
    await new Promise((r) => setTimeout(r, 200));
    expect(await sagas.find(rolledBackId)).toBeNull();
    expect(await ledger(rolledBackId)).toEqual([]); // its first command was never published

    const committedId = await transactions.run(() => sagas.start(TransferSaga, transfer({ amount: 9 })));
    expect((await sagas.waitFor(committedId, { timeoutMs: 10_000 })).status).toBe('COMPLETED');
    expect(dataSource.isInitialized).toBe(true);

    function placeholder(): string {
      return kind === 'postgres' ? '$1' : '?';
    }
  });

  it("with implicitJoin false, start({ manager }) joins the caller's transaction; a start() without it has its own (not on SQLite)", async () => {
    await boot({ implicitJoin: false });
    const transactions = moduleRef.get(SagaTransactions, { strict: false });
    let joined = '';
    let alone = '';
    let caller: EntityManager | undefined;
    await expect(
      transactions.run(async (manager) => {
        caller = manager;
        joined = await sagas.start(TransferSaga, transfer({ amount: 7 }), { manager });
        alone = await sagas.start(TransferSaga, transfer({ amount: 8 }));
        throw new Error('the caller failed');
      }),
    ).rejects.toThrow('the caller failed');
    await new Promise((r) => setTimeout(r, 200));
    expect(await sagas.find(joined)).toBeNull();
    expect(await ledger(joined)).toEqual([]);
    if (kind === 'sqlite') {
      expect(await sagas.find(alone)).toBeNull(); // SQLite keeps joining: a start() of its own would wait for ever
    } else {
      expect((await sagas.waitFor(alone, { timeoutMs: 10_000 })).status).toBe('COMPLETED');
    }
    await expect(sagas.start(TransferSaga, transfer(), { manager: caller })).rejects.toThrow(
      "'manager' must be the ctx.manager of a step, command handler or @OnReply method",
    );
  });

  it('waitFor times out with the current status when nothing consumes', async () => {
    await boot({ consume: false });
    const id = await sagas.start(TransferSaga, transfer());
    const error = await sagas.waitFor(id, { timeoutMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SagaTimeoutError);
    expect((error as Error).message).toContain('RUNNING');
  });
});

describe('boot validation', () => {
  it('fails boot when a saga sends a command nobody handles in this process', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database: ':memory:',
          entities: [...sagaEntities],
          migrations: [...sagaMigrations],
          migrationsRun: true,
        }),
        SagaModule.forRoot({ service: 'x' }),
      ],
      providers: [TransferSaga],
    }).compile();
    const error = await moduleRef.init().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SagaDefinitionError);
    expect((error as Error).message).toContain(
      "TransferSaga.debit sends 'Debit' to participant 'bank', but no provider handles it",
    );
    await moduleRef.close().catch(() => undefined);
  });
});
