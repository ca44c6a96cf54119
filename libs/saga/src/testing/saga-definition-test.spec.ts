import { AssertionError } from 'node:assert';
import { Compensation, SagaOrchestration, Step } from '../decorators';
import type { StepLogEntry } from '../engine/saga-state';
import { assertUniqueStepLog, sagaDefinitionTest } from './saga-definition-test';

@SagaOrchestration({ name: 'transfer' })
class TransferSaga {
  @Step(1, { participant: 'accounts', command: 'Debit' })
  debit(): void {}
  @Compensation('debit', { command: 'Credit' })
  refund(): void {}

  @Step(2)
  record(): void {}
}

/** `TransferSaga` whose debit times out after 1 s. */
@SagaOrchestration({ name: 'timed-transfer' })
class TimedTransferSaga {
  @Step(1, { participant: 'accounts', command: 'Debit', timeoutMs: 1_000 })
  debit(): void {}
  @Compensation('debit', { command: 'Credit' })
  refund(): void {}

  @Step(2)
  record(): void {}
}

describe('sagaDefinitionTest', () => {
  it('drives a saga with a fluent API', () => {
    const t = sagaDefinitionTest(TransferSaga).start();
    t.expectCommand('debit').to('accounts').ofType('Debit').and().succeed();
    t.expectExecute('record', 'invoke', 1).fail({ message: 'closed' });
    t.expectCommand('debit', { phase: 'compensate', attempt: 1 }).ofType('Credit').and().succeed();
    t.expectStatus('COMPENSATED');
    expect(t.trail()).toEqual([
      'debit invoke#1 sent',
      'debit reply#1 succeeded',
      'record invoke#1 failed',
      'debit compensate#1 sent',
      'debit compensate-reply#1 succeeded',
    ]);
  });

  it('uses the fixed clock and random source it is given', () => {
    const t = sagaDefinitionTest(TransferSaga, { now: 5_000, random: 1 }).start().fail({ transient: true });
    expect(t.now).toBe(5_000);
    expect(t.state.wakeAt).toBe(5_080);
    t.wake().expectCommand('debit', { attempt: 2 });
    expect(t.now).toBe(5_080);
  });

  it('fails with a readable message when an expectation does not hold', () => {
    const t = sagaDefinitionTest(TransferSaga).start();
    expect(() => t.expectExecute('record', 'invoke', 1)).toThrow(
      new AssertionError({ message: 'expected to execute record/invoke#1, but got debit/invoke#1' }),
    );
    expect(() => t.expectCommand('debit').to('payments')).toThrow('expected participant, but got accounts');
    expect(() => t.expectStatus('COMPLETED')).toThrow('expected status COMPLETED, but got RUNNING');
    expect(() => t.expectIgnored()).toThrow(AssertionError);
    t.succeed();
    expect(() => t.expectCommand('record')).toThrow('expected record/invoke to be remote, but got local');
  });

  it('refuses to reply when nothing is awaited', () => {
    const t = sagaDefinitionTest(TransferSaga).start().fail({ transient: true });
    expect(() => t.succeed()).toThrow(/No action is awaited \(RUNNING at debit\/invoke#1/);
  });

  it('says when the current attempt is in doubt (it timed out)', () => {
    const t = sagaDefinitionTest(TimedTransferSaga).start().wake();
    expect(() => t.succeed()).toThrow(
      'No action is awaited (RUNNING at debit/invoke#1, in doubt, wakeAt 1700000001100): pass { step, phase, attempt }.',
    );
  });

  it('replies to an earlier attempt when given one: a timed-out attempt that took effect after all', () => {
    const t = sagaDefinitionTest(TimedTransferSaga).start().wake().wake();
    t.expectCommand('debit', { attempt: 2 }).and().succeed({ step: 'debit', phase: 'invoke', attempt: 1 });
    t.expectExecute('record', 'invoke', 1);
    expect(t.trail()).toEqual([
      'debit invoke#1 sent',
      'debit timeout#1 timed-out',
      'debit invoke#2 sent',
      'debit reply#1 succeeded',
    ]);
  });

  it('detects two step log entries with the same (step, phase, attempt)', () => {
    const entry: StepLogEntry = { step: 'debit', phase: 'operator', attempt: 1, outcome: 'aborted', at: 0 };
    expect(() => assertUniqueStepLog([entry, { ...entry, phase: 'invoke' }])).not.toThrow();
    expect(() => assertUniqueStepLog([entry, { ...entry, phase: 'compensate-operator' }])).not.toThrow();
    expect(() => assertUniqueStepLog([entry, { ...entry, outcome: 'resolved' }])).toThrow(
      'The step log has two entries for debit/operator#1 (aborted, then resolved)',
    );
  });
});
