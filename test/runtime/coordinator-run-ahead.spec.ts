import { Injectable, Logger } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  HandleCommand,
  InProcessTransport,
  SagaManager,
  SagaOrchestration,
  SagaParticipant,
  Step,
  StepFailure,
  type SagaContext,
} from 'nestjs-saga';
import { SagaCoordinator } from '../../libs/saga/src/runtime/saga-coordinator';
import type { SagaMessage } from '../../libs/saga/src/transport/message';
import type { Disposition } from '../../libs/saga/src/transport/transport';
import { eventually, reply, sleep } from '../rabbitmq/rabbitmq.helpers';
import { ensurePgDatabase } from '../support/databases';
import { TestReader, valueOf } from '../support/metrics';
import { LedgerRow, bootApp, holdInboxRow } from './transfer-saga.fixture';

/** Counts the runs of the local step that follows the reply: how the test sees it run before the saga is read. */
@Injectable()
class Runs {
  confirm = 0;
  /** When set, `confirm` fails (a business failure) on a saga without a note. */
  requireNote = false;
}

type Data = { item: string; note?: string };

/** Reserve (remote) → confirm (local, writes a ledger row): its code only writes through ctx.manager. */
@SagaOrchestration({ name: 'stocked', sideEffects: false })
class StockedSaga {
  constructor(private readonly runs: Runs) {}

  @Step(1, { participant: 'stock', command: 'Reserve', pivot: true })
  reserve(ctx: SagaContext<Data>) {
    return { item: ctx.data.item };
  }

  @Step(2)
  async confirm(ctx: SagaContext<Data>): Promise<void> {
    this.runs.confirm++;
    if (this.runs.requireNote && !ctx.data.note) throw new StepFailure('no note');
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: ctx.data.note ?? 'confirmed' });
  }
}

/** The same, with the default `sideEffects`: never applied ahead. */
@SagaOrchestration({ name: 'stocked-default' })
class StockedDefaultSaga extends StockedSaga {}

/** Never called here (nothing consumes): the in-process transport wants every command handled in the application. */
@SagaParticipant('stock')
class StockParticipant {
  @HandleCommand('Reserve')
  reserve(): object {
    return {};
  }
}

/**
 * `@SagaOrchestration({ sideEffects: false })` on PostgreSQL: the coordinator applies a reply to the saga as it last
 * committed it while the reply's inbox row and the saga are still being read. A second connection holds the reply's
 * inbox row uncommitted, so that read waits on it: the test sees whether the next local step ran meanwhile, and
 * decides whether the reply proves new (ROLLBACK) or a duplicate (COMMIT).
 */
describe('the coordinator applying replies ahead of reading the saga (PostgreSQL)', () => {
  let moduleRef: TestingModule;
  let coordinator: SagaCoordinator;
  let sagas: SagaManager;
  let runs: Runs;
  let url: string;
  let blocker: Client;

  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    metrics.setGlobalMeterProvider(provider); // before the app starts: the instruments are created at boot
    url = await ensurePgDatabase('saga_coordinator_run_ahead_test');
    // No consumers: the test hands the replies to the coordinator itself; the commands stay in the outbox.
    const transport = new InProcessTransport();
    moduleRef = await bootApp(
      { type: 'postgres', url },
      { service: 'stock-app', transport, consume: false },
      [StockedSaga, StockedDefaultSaga, StockParticipant, Runs],
    );
    coordinator = moduleRef.get(SagaCoordinator);
    sagas = moduleRef.get(SagaManager);
    runs = moduleRef.get(Runs);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await provider.shutdown();
    metrics.disable();
  });

  beforeEach(async () => {
    runs.confirm = 0;
    runs.requireNote = false;
    blocker = new Client({ connectionString: url });
    await blocker.connect();
  });

  afterEach(async () => {
    await blocker.end();
  });

  /** A saga started (and committed) by this process, now awaiting the reply to `reserve`, and that reply. */
  async function awaitingReply(saga: typeof StockedSaga = StockedSaga): Promise<SagaMessage> {
    const sagaId = await sagas.start(saga, { item: 'book' });
    const sagaType = saga === StockedSaga ? 'stocked' : 'stocked-default';
    return reply('stock-app', { type: 'Reserve', sagaId, sagaType, step: 'reserve', payload: {} });
  }

  /**
   * Hands `message` to the coordinator while its inbox row is held, waits for `meanwhile`, then ends the holding
   * transaction with `end`. Resolves with the coordinator's dispositions.
   */
  async function handleWhileHeld(
    message: SagaMessage,
    meanwhile: () => Promise<void>,
    end: 'ROLLBACK' | 'COMMIT',
  ): Promise<Disposition[]> {
    await holdInboxRow(blocker, 'coordinator:stock-app', message.messageId);
    const handled = coordinator.handleReplies([{ message, redelivered: end === 'COMMIT' }]);
    await meanwhile();
    await blocker.query(end);
    return handled;
  }

  /** Another replica's commit, as far as this process can tell: a new version, with data of its own. */
  async function changeElsewhere(sagaId: string): Promise<void> {
    await moduleRef
      .get(DataSource)
      .query(`UPDATE saga_instance SET version = version + 1, data = $2 WHERE id = $1`, [
        sagaId,
        JSON.stringify({ item: 'book', note: 'from-the-other-replica' }),
      ]);
  }

  const stepRan = () => eventually(() => runs.confirm === 1, 5_000);

  async function ledger(sagaId: string): Promise<string[]> {
    const rows = await moduleRef.get(DataSource).getRepository(LedgerRow).findBy({ sagaId });
    return rows.map((r) => r.kind);
  }

  it('runs the next step while the saga is being read, and commits it once the guess proves right', async () => {
    const message = await awaitingReply();
    expect(await handleWhileHeld(message, stepRan, 'ROLLBACK')).toEqual([{ kind: 'ack' }]);
    expect(runs.confirm).toBe(1);
    expect((await sagas.find(message.sagaId))?.status).toBe('COMPLETED');
    expect(await ledger(message.sagaId)).toEqual(['confirmed']);
  });

  it('rolls the run back when the reply proves a duplicate: the saga stays as it was', async () => {
    const message = await awaitingReply();
    expect(await handleWhileHeld(message, stepRan, 'COMMIT')).toEqual([{ kind: 'ack' }]);
    expect(runs.confirm).toBe(1); // run ahead, rolled back; the run after reading skipped the duplicate
    const view = await sagas.find(message.sagaId);
    expect(view).toMatchObject({ status: 'RUNNING', currentStep: 'reserve' });
    expect(await ledger(message.sagaId)).toEqual([]);
  });

  it('applies the reply again from the stored saga when it changed since this process saved it', async () => {
    const message = await awaitingReply();
    await changeElsewhere(message.sagaId);
    expect(await coordinator.handleReplies([{ message, redelivered: false }])).toEqual([{ kind: 'ack' }]);
    expect(runs.confirm).toBe(2); // once on the guess (rolled back), once on the stored saga
    expect((await sagas.find(message.sagaId))?.status).toBe('COMPLETED');
    expect(await ledger(message.sagaId)).toEqual(['from-the-other-replica']);
  });

  it('does not take a failure of code run on a wrong guess for the failure of the stored saga', async () => {
    runs.requireNote = true; // the remembered saga has no note: its step fails; the stored one has one
    const message = await awaitingReply();
    await changeElsewhere(message.sagaId);
    expect(await coordinator.handleReplies([{ message, redelivered: false }])).toEqual([{ kind: 'ack' }]);
    expect(runs.confirm).toBe(2);
    expect((await sagas.find(message.sagaId))?.status).toBe('COMPLETED');
    expect(await ledger(message.sagaId)).toEqual(['from-the-other-replica']);
  });

  it('reads the saga first for a saga type with the default sideEffects', async () => {
    const message = await awaitingReply(StockedDefaultSaga);
    const notYet = async () => {
      await sleep(300);
      expect(runs.confirm).toBe(0);
    };
    expect(await handleWhileHeld(message, notYet, 'ROLLBACK')).toEqual([{ kind: 'ack' }]);
    expect(runs.confirm).toBe(1);
    expect((await sagas.find(message.sagaId))?.status).toBe('COMPLETED');
  });

  it('has counted its guesses by outcome (the tests above, in order)', async () => {
    const result = await reader.collect();
    const guesses = (guess: string) => valueOf(result, 'saga.coordinator.guesses', { 'saga.guess': guess });
    // right: the first test; duplicate: the second; stale: the third and the fourth; none for the default type.
    expect({ right: guesses('right'), duplicate: guesses('duplicate'), stale: guesses('stale') }).toEqual({
      right: 1,
      duplicate: 1,
      stale: 2,
    });
  });
});
