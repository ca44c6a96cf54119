import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { InProcessTransport, SagaManager } from 'nestjs-saga';
import { ParticipantRuntime } from '../../libs/saga/src/runtime/participant-runtime';
import { SagaCoordinator } from '../../libs/saga/src/runtime/saga-coordinator';
import type { SagaMessage } from '../../libs/saga/src/transport/message';
import { dataSourceOptions } from '../support/databases';
import { TestReader, points, valueOf } from '../support/metrics';
import { bootTransferApp, TransferSaga } from './transfer-saga.fixture';

describe('OpenTelemetry metrics (in-process transport, SQLite)', () => {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  let moduleRef: TestingModule;

  beforeAll(async () => {
    // Registered before the app starts, as an application does: the instruments are created at boot.
    metrics.setGlobalMeterProvider(provider);
    moduleRef = await bootTransferApp(await dataSourceOptions('sqlite', 'metrics_test'), {
      service: 'bank-app',
      transport: new InProcessTransport({ retryDelayMs: 10 }),
    });
  });

  afterAll(async () => {
    await moduleRef?.close();
    await provider.shutdown();
    metrics.disable();
  });

  it('counts transitions, finished sagas and their duration, commands by outcome, and published messages', async () => {
    const sagas = moduleRef.get(SagaManager);
    const completed = await sagas.start(TransferSaga, { account: 'acc-1', amount: 50, country: 'FR' });
    const declined = await sagas.start(TransferSaga, { account: 'acc-1', amount: 500, country: 'FR' });
    expect((await sagas.waitFor(completed, { timeoutMs: 10_000 })).status).toBe('COMPLETED');
    expect((await sagas.waitFor(declined, { timeoutMs: 10_000 })).status).toBe('COMPENSATED');

    const result = await reader.collect();
    const transfer = { 'saga.type': 'transfer' };
    expect(valueOf(result, 'saga.finished', { ...transfer, 'saga.status': 'COMPLETED' })).toBe(1);
    expect(valueOf(result, 'saga.finished', { ...transfer, 'saga.status': 'COMPENSATED' })).toBe(1);
    expect(valueOf(result, 'saga.transitions', { ...transfer, 'saga.status': 'COMPLETED' })).toBe(1);
    expect(
      valueOf(result, 'saga.transitions', { ...transfer, 'saga.status': 'RUNNING' }),
    ).toBeGreaterThanOrEqual(3);
    const durations = points(result, 'saga.duration').map((p) => p.value as { count: number; min: number });
    expect(durations.reduce((n, d) => n + d.count, 0)).toBe(2);
    expect(Math.min(...durations.map((d) => d.min))).toBeGreaterThanOrEqual(0);

    const debit = { 'saga.participant': 'bank', 'saga.command': 'Debit' };
    expect(valueOf(result, 'saga.commands', { ...debit, 'saga.outcome': 'success' })).toBe(1);
    expect(valueOf(result, 'saga.commands', { ...debit, 'saga.outcome': 'failure' })).toBe(1);
    expect(valueOf(result, 'saga.commands', { 'saga.command': 'Notify', 'saga.outcome': 'success' })).toBe(1);
    // Debit, its reply, Notify, its reply; then Debit and its (failure) reply.
    expect(valueOf(result, 'saga.outbox.published', {})).toBe(6);
    expect(points(result, 'saga.outbox.publish_failures')).toEqual([]);
    expect(points(result, 'saga.inbox.duplicates')).toEqual([]);
  });

  it('counts the messages an inbox had processed before, by consumer', async () => {
    // A command and a reply the first test processed, delivered again (as after a crash before the ack).
    const sent = (
      await moduleRef.get(DataSource).query<{ body: string }[]>(`SELECT body FROM saga_outbox`)
    ).map((row) => JSON.parse(row.body) as SagaMessage);
    const command = sent.find((m) => m.kind === 'command' && m.type === 'Debit')!;
    const reply = sent.find((m) => m.kind === 'reply' && m.type === 'Debit')!;
    const again = (message: SagaMessage) => [{ message, redelivered: true }];
    expect(await moduleRef.get(ParticipantRuntime).handleCommands('bank', again(command))).toEqual([
      { kind: 'ack' },
    ]);
    expect(await moduleRef.get(SagaCoordinator).handleReplies(again(reply))).toEqual([{ kind: 'ack' }]);

    const result = await reader.collect();
    expect(valueOf(result, 'saga.inbox.duplicates', { 'saga.consumer': 'participant:bank' })).toBe(1);
    expect(valueOf(result, 'saga.inbox.duplicates', { 'saga.consumer': 'coordinator:bank-app' })).toBe(1);
    // Acknowledged without effect: no command handled twice.
    const debit = { 'saga.participant': 'bank', 'saga.command': 'Debit', 'saga.outcome': 'success' };
    expect(valueOf(result, 'saga.commands', debit)).toBe(1);
  });
});
