import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestingModule } from '@nestjs/testing';
import { InProcessTransport, SagaManager, SagaOperationError } from 'nestjs-saga';
import { Flakiness, TransferSaga, bootTransferApp, timeline } from './transfer-saga.fixture';

/** The operator API over a real runtime (SQLite; the same code runs on PostgreSQL in monolith-runtime.spec). */
describe('operator actions', () => {
  let moduleRef: TestingModule;
  let sagas: SagaManager;
  let flaky: Flakiness;

  let file: string;
  beforeEach(() => {
    file = join(tmpdir(), `saga-operator-${randomUUID()}.sqlite`);
  });
  afterEach(() => rmSync(file, { force: true }));

  async function boot(consume = true): Promise<void> {
    moduleRef = await bootTransferApp(
      { type: 'better-sqlite3', database: file }, // a file: the abort test restarts the app on it
      {
        service: 'ops',
        transport: new InProcessTransport({ retryDelayMs: 10 }),
        timerIntervalMs: 10,
        relay: { sweepIntervalMs: 50, sweepAfterMs: 50 },
        consume,
      },
    );
    sagas = moduleRef.get(SagaManager);
    flaky = moduleRef.get(Flakiness);
  }

  afterEach(async () => {
    await moduleRef?.close();
  });

  it('a compensation that exhausts its retries leaves the saga COMPENSATION_FAILED; retry then completes it', async () => {
    await boot();
    flaky.creditFailures = 2; // the policy allows 2 attempts
    const id = await sagas.start(TransferSaga, { account: 'a', amount: 10, country: 'XX' });
    const failed = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(failed.status).toBe('COMPENSATION_FAILED');
    expect(failed.lastError).toMatchObject({ message: 'ledger locked', transient: true });
    expect(await sagas.list({ status: ['COMPENSATION_FAILED'] })).toEqual([expect.objectContaining({ id })]);

    const retried = await sagas.retry(id, 'ledger unlocked');
    expect(['COMPENSATING', 'COMPENSATED']).toContain(retried.status);
    const done = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(done.status).toBe('COMPENSATED');
    expect(timeline(done).slice(-7)).toEqual([
      'debit/compensate-reply/1/failed',
      'debit/compensate/2/sent',
      'debit/compensate-reply/2/failed',
      'debit/compensate-operator/2/retried',
      'debit/compensate/3/sent',
      'debit/compensate-reply/3/succeeded',
      'reserve/compensate/1/succeeded',
    ]);
    expect(done.history.find((h) => h.phase === 'compensate-operator')?.detail).toEqual({
      reason: 'ledger unlocked',
    });
  });

  it('resolve records a failed compensation as done by hand and goes on compensating', async () => {
    await boot();
    flaky.creditFailures = 5;
    const id = await sagas.start(TransferSaga, { account: 'a', amount: 10, country: 'XX' });
    expect((await sagas.waitFor(id, { timeoutMs: 10_000 })).status).toBe('COMPENSATION_FAILED');
    await sagas.resolve(id, 'refunded by phone');
    const done = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(done.status).toBe('COMPENSATED');
    expect(timeline(done).slice(-2)).toEqual([
      'debit/compensate-operator/2/resolved',
      'reserve/compensate/1/succeeded',
    ]);
  });

  it('abort compensates a running saga, including its in-flight step; it is refused on a finished saga', async () => {
    await boot(false); // nothing consumes: the saga waits at its first remote step
    const id = await sagas.start(TransferSaga, { account: 'a', amount: 10, country: 'FR' });
    const aborted = await sagas.abort(id, 'customer cancelled');
    expect(aborted.status).toBe('COMPENSATING');
    expect(timeline(aborted).slice(-2)).toEqual(['debit/operator/1/aborted', 'debit/compensate/1/sent']);
    expect(aborted.lastError).toMatchObject({ name: 'SagaAborted', message: 'customer cancelled' });
    await moduleRef.close();

    await boot(); // a restart: the sweep publishes what the first process left in the outbox
    const done = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(done.status).toBe('COMPENSATED');
    await expect(sagas.abort(id)).rejects.toBeInstanceOf(SagaOperationError);
  });
});
