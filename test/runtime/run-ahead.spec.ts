import { Injectable, Logger } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  HandleCommand,
  InProcessTransport,
  SagaParticipant,
  StepFailure,
  type CommandContext,
} from 'nestjs-saga';
import { ParticipantRuntime } from '../../libs/saga/src/runtime/participant-runtime';
import type { Disposition } from '../../libs/saga/src/transport/transport';
import { command, eventually, sleep } from '../rabbitmq/rabbitmq.helpers';
import { ensurePgDatabase } from '../support/databases';
import { LedgerRow, bootApp, holdInboxRow } from './transfer-saga.fixture';

/** Counts the handlers' invocations: how the test sees a handler run before its inbox row is written. */
@Injectable()
class Calls {
  count = 0;
}

@SagaParticipant('ledger')
class LedgerParticipant {
  constructor(private readonly calls: Calls) {}

  @HandleCommand('Record', { sideEffects: false })
  async record(cmd: { amount: number }, ctx: CommandContext): Promise<object> {
    this.calls.count++;
    if (cmd.amount < 0) throw new StepFailure('negative'); // before any statement of its own
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: 'recorded' });
    if (cmd.amount > 100) throw new StepFailure('too much');
    return { recorded: true };
  }

  @HandleCommand('RecordOnce')
  async recordOnce(_cmd: object, ctx: CommandContext): Promise<object> {
    this.calls.count++;
    await ctx.manager.insert(LedgerRow, { sagaId: ctx.sagaId, kind: 'recorded' });
    return { recorded: true };
  }
}

/**
 * `@HandleCommand({ sideEffects: false })` on PostgreSQL: the handler runs while its command's inbox row is being
 * written. A second connection holds an uncommitted inbox row for the command, so the participant's inbox statement
 * waits on it: the test sees whether the handler ran meanwhile, and decides whether the command turns out new
 * (the blocker rolls back) or a duplicate (it commits).
 */
describe('command handlers that run ahead of the inbox (PostgreSQL)', () => {
  let moduleRef: TestingModule;
  let runtime: ParticipantRuntime;
  let calls: Calls;
  let url: string;
  let blocker: Client;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    url = await ensurePgDatabase('saga_run_ahead_test');
    // No consumers: the test hands the batches to the runtime itself; replies stay in the outbox.
    const transport = new InProcessTransport();
    moduleRef = await bootApp(
      { type: 'postgres', url },
      { service: 'ledger-app', transport, consume: false },
      [LedgerParticipant, Calls],
    );
    runtime = moduleRef.get(ParticipantRuntime);
    calls = moduleRef.get(Calls);
  });

  afterAll(async () => {
    await moduleRef?.close();
  });

  beforeEach(async () => {
    calls.count = 0;
    blocker = new Client({ connectionString: url });
    await blocker.connect();
  });

  afterEach(async () => {
    await blocker.end();
  });

  /**
   * Hands `cmd` to the runtime while its inbox row is held, waits for `meanwhile`, then ends the holding transaction
   * with `end` (ROLLBACK: the command proves new; COMMIT: a duplicate). Resolves with the runtime's dispositions.
   */
  async function handleWhileHeld(
    cmd: ReturnType<typeof command>,
    meanwhile: () => Promise<void>,
    end: 'ROLLBACK' | 'COMMIT',
  ): Promise<Disposition[]> {
    await holdInboxRow(blocker, 'participant:ledger', cmd.messageId);
    const handled = runtime.handleCommands('ledger', [{ message: cmd, redelivered: end === 'COMMIT' }]);
    await meanwhile();
    await blocker.query(end);
    return handled;
  }

  const handlerRan = () => eventually(() => calls.count === 1, 5_000);

  async function effects(sagaId: string): Promise<{ ledger: number; replies: string[] }> {
    const db = moduleRef.get(DataSource);
    const ledger = await db.getRepository(LedgerRow).countBy({ sagaId });
    const rows = await db.query<{ body: string }[]>(`SELECT body FROM saga_outbox WHERE body LIKE $1`, [
      `%${sagaId}%`,
    ]);
    return { ledger, replies: rows.map((r) => (JSON.parse(r.body) as { outcome: string }).outcome) };
  }

  it('runs the handler while the inbox statement waits, and commits once the command proves new', async () => {
    const cmd = command('ledger', { type: 'Record', payload: { amount: 5 } });
    expect(await handleWhileHeld(cmd, handlerRan, 'ROLLBACK')).toEqual([{ kind: 'ack' }]);
    expect(calls.count).toBe(1);
    expect(await effects(cmd.sagaId)).toEqual({ ledger: 1, replies: ['success'] });
  });

  it('rolls the run back when the command proves a duplicate: no effect, no reply, acknowledged', async () => {
    const cmd = command('ledger', { type: 'Record', payload: { amount: 5 } });
    expect(await handleWhileHeld(cmd, handlerRan, 'COMMIT')).toEqual([{ kind: 'ack' }]);
    expect(calls.count).toBe(1); // the second run, with the inbox answered first, skipped it
    expect(await effects(cmd.sagaId)).toEqual({ ledger: 0, replies: [] });
  });

  it('waits for the inbox before running a handler that may have side effects (the default)', async () => {
    const cmd = command('ledger', { type: 'RecordOnce', payload: {} });
    const notYet = async () => {
      await sleep(300);
      expect(calls.count).toBe(0);
    };
    expect(await handleWhileHeld(cmd, notYet, 'ROLLBACK')).toEqual([{ kind: 'ack' }]);
    expect(calls.count).toBe(1);
    expect(await effects(cmd.sagaId)).toEqual({ ledger: 1, replies: ['success'] });
  });

  it("replies with a run-ahead handler's business failure, its writes undone", async () => {
    const cmd = command('ledger', { type: 'Record', payload: { amount: 500 } });
    expect(await runtime.handleCommands('ledger', [{ message: cmd, redelivered: false }])).toEqual([
      { kind: 'ack' },
    ]);
    expect(calls.count).toBe(1); // its failure is replayed in the run with savepoints, not run again
    expect(await effects(cmd.sagaId)).toEqual({ ledger: 0, replies: ['failure'] });
  });

  it('commits the inbox row with the failure reply of a handler that fails before any statement of its own', async () => {
    const cmd = command('ledger', { type: 'Record', payload: { amount: -1 } });
    expect(await runtime.handleCommands('ledger', [{ message: cmd, redelivered: false }])).toEqual([
      { kind: 'ack' },
    ]);
    expect(await effects(cmd.sagaId)).toEqual({ ledger: 0, replies: ['failure'] });
  });

  it('runs a batch ahead, and runs the same message delivered twice in one batch once', async () => {
    const [a, b] = [1, 2].map(() => command('ledger', { type: 'Record', payload: { amount: 5 } }));
    expect(
      await runtime.handleCommands(
        'ledger',
        [a, b, a].map((message) => ({ message, redelivered: false })),
      ),
    ).toEqual([{ kind: 'ack' }, { kind: 'ack' }, { kind: 'ack' }]);
    expect(calls.count).toBe(2);
    expect(await effects(a.sagaId)).toEqual({ ledger: 1, replies: ['success'] });
    expect(await effects(b.sagaId)).toEqual({ ledger: 1, replies: ['success'] });
  });
});
