import type { Type } from '@nestjs/common';
import { Compensation, OnReply, SagaOrchestration, Step } from '../decorators';
import { SagaDefinitionError, StepFailure } from '../errors/saga.errors';
import { buildSagaDefinition, isSagaClass } from './build-saga-definition';
import { DEFAULT_AFTER_PIVOT_RETRY, DEFAULT_COMPENSATION_RETRY, DEFAULT_STEP_RETRY } from './defaults';

/** The message of the error `buildSagaDefinition(saga)` throws (fails the test if it does not throw one). */
function bootError(saga: Type<unknown>): string {
  try {
    buildSagaDefinition(saga);
  } catch (error) {
    expect(error).toBeInstanceOf(SagaDefinitionError);
    return (error as SagaDefinitionError).message;
  }
  throw new Error(`${saga.name} was accepted`);
}

describe('buildSagaDefinition', () => {
  describe('a valid saga', () => {
    @SagaOrchestration({ name: 'place-order', version: 2, deadlineMs: 30_000 })
    class PlaceOrderSaga {
      // Declared out of order on purpose: @Step(n) decides.
      @Step(3, { participant: 'shipping' })
      ship(): void {}

      @Step(1)
      create(): void {}
      @Compensation('create')
      reject(): void {}

      @Step(2, { participant: 'payment', retry: { attempts: 5 }, timeoutMs: 2_000 })
      charge(): void {}
      @OnReply('charge')
      charged(): void {}
      @Compensation('charge', { command: 'RefundPayment', retry: { initialDelayMs: 50 }, timeoutMs: 1_000 })
      refund(): void {}
    }
    const definition = buildSagaDefinition(PlaceOrderSaga);

    it('orders the steps by @Step(n), whatever the declaration order', () => {
      expect(definition.steps.map((s) => [s.index, s.name, s.method])).toEqual([
        [0, 'create', 'create'],
        [1, 'charge', 'charge'],
        [2, 'ship', 'ship'],
      ]);
    });

    it('names the command after the method, first letter upper-cased, by default', () => {
      expect(definition.steps[1].target).toEqual({
        kind: 'remote',
        participant: 'payment',
        command: 'Charge',
      });
      expect(definition.steps[2].target).toEqual({
        kind: 'remote',
        participant: 'shipping',
        command: 'Ship',
      });
      expect(definition.steps[0].target).toEqual({ kind: 'local' });
    });

    it('makes the last step the pivot when none is marked', () => {
      expect(definition.pivotIndex).toBe(2);
      expect(definition.steps.map((s) => [s.pivot, s.afterPivot])).toEqual([
        [false, false],
        [false, false],
        [true, false],
      ]);
    });

    it('merges retry policies over the defaults', () => {
      expect(definition.steps[0].retry).toEqual(DEFAULT_STEP_RETRY);
      expect(definition.steps[1].retry).toEqual({ ...DEFAULT_STEP_RETRY, attempts: 5 });
      expect(definition.steps[0].compensation!.retry).toEqual(DEFAULT_COMPENSATION_RETRY);
      expect(definition.steps[1].compensation!.retry).toEqual({
        ...DEFAULT_COMPENSATION_RETRY,
        initialDelayMs: 50,
      });
    });

    it('builds local and remote compensations; a remote one goes to the step participant by default', () => {
      expect(definition.steps[0].compensation).toEqual({
        method: 'reject',
        target: { kind: 'local' },
        retry: DEFAULT_COMPENSATION_RETRY,
        timeoutMs: undefined,
      });
      expect(definition.steps[1].compensation).toMatchObject({
        method: 'refund',
        target: { kind: 'remote', participant: 'payment', command: 'RefundPayment' },
        timeoutMs: 1_000,
      });
      expect(definition.steps[2].compensation).toBeUndefined();
    });

    it('records reply handlers, timeouts and the saga options', () => {
      expect(definition.steps.map((s) => [s.onReply, s.timeoutMs])).toEqual([
        [undefined, undefined],
        ['charged', 2_000],
        [undefined, undefined],
      ]);
      expect(definition).toMatchObject({
        name: 'place-order',
        version: 2,
        deadlineMs: 30_000,
        target: PlaceOrderSaga,
      });
      expect(isSagaClass(PlaceOrderSaga)).toBe(true);
    });

    it('is immutable', () => {
      expect(Object.isFrozen(definition)).toBe(true);
      expect(Object.isFrozen(definition.steps)).toBe(true);
      expect(Object.isFrozen(definition.steps[1])).toBe(true);
      expect(Object.isFrozen(definition.steps[1].retry)).toBe(true);
    });
  });

  it('an explicit pivot: the steps after it retry forever and have no compensation', () => {
    @SagaOrchestration({ name: 'pivoted' })
    class PivotedSaga {
      @Step(1)
      create(): void {}
      @Compensation('create')
      reject(): void {}
      @Step(2, { participant: 'shipping', pivot: true, retry: { attempts: 5 } })
      ship(): void {}
      @Step(3, { retry: { maxDelayMs: 1_000 } })
      approve(): void {}
    }
    const definition = buildSagaDefinition(PivotedSaga);
    expect(definition.pivotIndex).toBe(1);
    // The pivot itself is retried per its policy: 'retry.attempts' applies to it.
    expect(definition.steps[1].retry).toEqual({ ...DEFAULT_STEP_RETRY, attempts: 5 });
    expect(definition.steps[2]).toMatchObject({ pivot: false, afterPivot: true, compensation: undefined });
    expect(definition.steps[2].retry).toEqual({ ...DEFAULT_AFTER_PIVOT_RETRY, maxDelayMs: 1_000 });
  });

  it('defaults: version 1, no deadline, a remote compensation with its own participant', () => {
    @SagaOrchestration({ name: 'defaults' })
    class DefaultsSaga {
      @Step(1)
      create(): void {}
      @Compensation('create', { command: 'Undo', participant: 'audit' })
      undo(): void {}
      @Step(2)
      approve(): void {}
    }
    const definition = buildSagaDefinition(DefaultsSaga);
    expect(definition).toMatchObject({ version: 1, deadlineMs: undefined });
    expect(definition.steps[0].compensation!.target).toEqual({
      kind: 'remote',
      participant: 'audit',
      command: 'Undo',
    });
  });

  it('classifies StepFailure and the declared errors as business failures, others as transient', () => {
    class OutOfStock extends Error {}
    @SagaOrchestration({ name: 'classified' })
    class ClassifiedSaga {
      @Step(1, { businessErrors: [OutOfStock] })
      reserve(): void {}
      @Compensation('reserve')
      release(): void {}
      @Step(2, { businessErrors: (error) => error instanceof RangeError })
      approve(): void {}
    }
    const [reserve, approve] = buildSagaDefinition(ClassifiedSaga).steps;
    expect(reserve.isBusinessError(new StepFailure('no'))).toBe(true);
    expect(reserve.isBusinessError(new OutOfStock())).toBe(true);
    expect(reserve.isBusinessError(new Error('connection reset'))).toBe(false);
    expect(approve.isBusinessError(new RangeError())).toBe(true);
    expect(approve.isBusinessError(new StepFailure('no'))).toBe(true);
    expect(approve.isBusinessError(new TypeError())).toBe(false);
  });

  describe('boot errors name the class, the method and the fix', () => {
    it('missing @SagaOrchestration', () => {
      class PlainClass {
        @Step(1)
        create(): void {}
      }
      expect(isSagaClass(PlainClass)).toBe(false);
      expect(bootError(PlainClass)).toBe(
        'PlainClass is not a saga: decorate it with @SagaOrchestration({ name }).',
      );
    });

    it('no steps', () => {
      @SagaOrchestration({ name: 'empty' })
      class EmptySaga {}
      expect(bootError(EmptySaga)).toContain(
        'EmptySaga declares no steps: decorate its step methods with @Step(order).',
      );
    });

    it('an empty name', () => {
      @SagaOrchestration({ name: ' ' })
      class NamelessSaga {
        @Step(1)
        create(): void {}
      }
      expect(bootError(NamelessSaga)).toContain(
        "NamelessSaga: @SagaOrchestration() needs a non-empty 'name'.",
      );
    });

    it('two steps with the same order', () => {
      @SagaOrchestration({ name: 'dup-order' })
      class DupOrderSaga {
        @Step(1)
        create(): void {}
        @Compensation('create')
        reject(): void {}
        @Step(1)
        approve(): void {}
      }
      expect(bootError(DupOrderSaga)).toContain(
        'DupOrderSaga.create and DupOrderSaga.approve are both @Step(1): give each step its own order.',
      );
    });

    it('@Step twice on one method', () => {
      @SagaOrchestration({ name: 'dup-step' })
      class DupStepSaga {
        @Step(1)
        @Step(2)
        create(): void {}
      }
      expect(bootError(DupStepSaga)).toContain('DupStepSaga.create has @Step() more than once: keep one.');
    });

    it('an order that is not a finite number', () => {
      @SagaOrchestration({ name: 'nan' })
      class NanSaga {
        @Step(NaN)
        create(): void {}
      }
      expect(bootError(NanSaga)).toContain('NanSaga.create: @Step(order) needs a finite number.');
    });

    it('two pivots', () => {
      @SagaOrchestration({ name: 'two-pivots' })
      class TwoPivotsSaga {
        @Step(1, { pivot: true })
        create(): void {}
        @Step(2, { pivot: true })
        approve(): void {}
      }
      expect(bootError(TwoPivotsSaga)).toContain(
        'TwoPivotsSaga marks create and approve as pivot: a saga has one pivot step.',
      );
    });

    it('a step before the pivot without compensation', () => {
      @SagaOrchestration({ name: 'uncompensated' })
      class UncompensatedSaga {
        @Step(1)
        create(): void {}
        @Step(2, { participant: 'shipping' })
        ship(): void {}
      }
      expect(bootError(UncompensatedSaga)).toContain(
        "UncompensatedSaga.create runs before the pivot step 'ship' but has no compensation: " +
          "add a method decorated with @Compensation('create'), or mark an earlier step as the pivot.",
      );
    });

    it('a compensation for an unknown step', () => {
      @SagaOrchestration({ name: 'unknown-comp' })
      class UnknownCompSaga {
        @Step(1)
        create(): void {}
        @Compensation('creat')
        reject(): void {}
      }
      expect(bootError(UnknownCompSaga)).toContain(
        "UnknownCompSaga.reject is @Compensation('creat') but UnknownCompSaga has no step 'creat': use the step method's name.",
      );
    });

    it('two compensations for one step', () => {
      @SagaOrchestration({ name: 'two-comps' })
      class TwoCompsSaga {
        @Step(1)
        create(): void {}
        @Compensation('create')
        reject(): void {}
        @Compensation('create')
        cancel(): void {}
        @Step(2)
        approve(): void {}
      }
      expect(bootError(TwoCompsSaga)).toContain(
        "TwoCompsSaga.reject and TwoCompsSaga.cancel both compensate 'create': keep one.",
      );
    });

    it('a compensation on the pivot', () => {
      @SagaOrchestration({ name: 'comp-pivot' })
      class CompPivotSaga {
        @Step(1, { pivot: true })
        create(): void {}
        @Compensation('create')
        reject(): void {}
      }
      expect(bootError(CompPivotSaga)).toContain(
        "CompPivotSaga.reject compensates 'create', which is the pivot: such steps are retried until they succeed " +
          'and never compensated. Remove the @Compensation, or move the pivot.',
      );
    });

    it('a compensation on a step after the pivot', () => {
      @SagaOrchestration({ name: 'comp-after' })
      class CompAfterSaga {
        @Step(1, { pivot: true })
        create(): void {}
        @Step(2)
        approve(): void {}
        @Compensation('approve')
        unapprove(): void {}
      }
      expect(bootError(CompAfterSaga)).toContain(
        "CompAfterSaga.unapprove compensates 'approve', which is after the pivot: such steps are retried",
      );
    });

    it('@OnReply for an unknown step', () => {
      @SagaOrchestration({ name: 'unknown-reply' })
      class UnknownReplySaga {
        @Step(1, { participant: 'payment' })
        charge(): void {}
        @OnReply('charg')
        charged(): void {}
      }
      expect(bootError(UnknownReplySaga)).toContain(
        "UnknownReplySaga.charged is @OnReply('charg') but UnknownReplySaga has no step 'charg': use the step method's name.",
      );
    });

    it('@OnReply for a local step', () => {
      @SagaOrchestration({ name: 'local-reply' })
      class LocalReplySaga {
        @Step(1)
        create(): void {}
        @OnReply('create')
        created(): void {}
      }
      expect(bootError(LocalReplySaga)).toContain(
        "LocalReplySaga.created is @OnReply('create') but 'create' is a local step, which gets no reply: " +
          'set ctx.data in the step itself, or give it a participant.',
      );
    });

    it('two @OnReply for one step', () => {
      @SagaOrchestration({ name: 'two-replies' })
      class TwoRepliesSaga {
        @Step(1, { participant: 'payment' })
        charge(): void {}
        @OnReply('charge')
        charged(): void {}
        @OnReply('charge')
        paid(): void {}
      }
      expect(bootError(TwoRepliesSaga)).toContain(
        "TwoRepliesSaga.charged and TwoRepliesSaga.paid are both @OnReply('charge'): keep one.",
      );
    });

    it('timeoutMs on a local step', () => {
      @SagaOrchestration({ name: 'local-timeout' })
      class LocalTimeoutSaga {
        @Step(1, { timeoutMs: 1_000 })
        create(): void {}
      }
      expect(bootError(LocalTimeoutSaga)).toContain(
        "LocalTimeoutSaga.create: 'timeoutMs' applies to remote steps only (it has no participant).",
      );
    });

    it('timeoutMs on a local compensation', () => {
      @SagaOrchestration({ name: 'local-comp-timeout' })
      class LocalCompTimeoutSaga {
        @Step(1)
        create(): void {}
        @Compensation('create', { timeoutMs: 1_000 })
        reject(): void {}
        @Step(2)
        approve(): void {}
      }
      expect(bootError(LocalCompTimeoutSaga)).toBe(
        'Invalid saga LocalCompTimeoutSaga:\n' +
          "  - LocalCompTimeoutSaga.reject: 'timeoutMs' applies to remote compensations only (it sends no command).",
      );
    });

    it('timeoutMs on the local compensation of a remote step', () => {
      @SagaOrchestration({ name: 'remote-step-local-comp-timeout' })
      class RemoteStepLocalCompTimeoutSaga {
        @Step(1, { participant: 'payment', timeoutMs: 1_000 })
        charge(): void {}
        @Compensation('charge', { timeoutMs: 1_000 })
        refund(): void {}
        @Step(2)
        approve(): void {}
      }
      expect(bootError(RemoteStepLocalCompTimeoutSaga)).toContain(
        "RemoteStepLocalCompTimeoutSaga.refund: 'timeoutMs' applies to remote compensations only (it sends no command).",
      );
    });

    it('retry.attempts on a step after the pivot', () => {
      @SagaOrchestration({ name: 'after-pivot-attempts' })
      class AfterPivotAttemptsSaga {
        @Step(1, { participant: 'shipping', pivot: true, retry: { attempts: 5 } })
        ship(): void {}
        @Step(2, { retry: { attempts: 3, maxDelayMs: 1_000 } })
        approve(): void {}
        @Step(3, { participant: 'notification', retry: { attempts: Infinity } })
        notify(): void {}
      }
      const message = bootError(AfterPivotAttemptsSaga);
      expect(message.split('\n')).toEqual([
        'Invalid saga AfterPivotAttemptsSaga:',
        "  - AfterPivotAttemptsSaga.approve is after the pivot: it is retried until it succeeds, so 'retry.attempts' " +
          'does not apply. Remove it (the delays still do), or move the pivot.',
        "  - AfterPivotAttemptsSaga.notify is after the pivot: it is retried until it succeeds, so 'retry.attempts' " +
          'does not apply. Remove it (the delays still do), or move the pivot.',
      ]);
    });

    it('a command without participant', () => {
      @SagaOrchestration({ name: 'no-participant' })
      class NoParticipantSaga {
        @Step(1, { command: 'ChargePayment' })
        charge(): void {}
      }
      expect(bootError(NoParticipantSaga)).toContain(
        "NoParticipantSaga.charge names a command but no participant: add { participant: '<name>' }.",
      );
    });

    it('a compensation command for a local step without participant', () => {
      @SagaOrchestration({ name: 'local-comp-command' })
      class LocalCompCommandSaga {
        @Step(1)
        create(): void {}
        @Compensation('create', { command: 'Undo' })
        undo(): void {}
        @Step(2)
        approve(): void {}
      }
      expect(bootError(LocalCompCommandSaga)).toContain(
        "LocalCompCommandSaga.undo sends 'Undo' but 'create' is local: add { participant: '<name>' }.",
      );
    });

    it('an invalid retry policy, on a step or a compensation', () => {
      @SagaOrchestration({ name: 'bad-retry' })
      class BadRetrySaga {
        @Step(1, { retry: { attempts: 0, initialDelayMs: -1, factor: 0.5, jitter: 2 } })
        create(): void {}
        @Compensation('create', { retry: { maxDelayMs: -5 } })
        reject(): void {}
        @Step(2)
        approve(): void {}
      }
      const message = bootError(BadRetrySaga);
      expect(message).toContain(
        'BadRetrySaga.create: retry.attempts must be at least 1 (the first attempt counts).',
      );
      expect(message).toContain('BadRetrySaga.create: retry delays must be zero or more milliseconds.');
      expect(message).toContain('BadRetrySaga.create: retry.factor must be at least 1.');
      expect(message).toContain('BadRetrySaga.create: retry.jitter must be between 0 and 1.');
      expect(message).toContain('BadRetrySaga.reject: retry delays must be zero or more milliseconds.');
    });

    it('a deadline that is not positive', () => {
      @SagaOrchestration({ name: 'bad-deadline', deadlineMs: 0 })
      class BadDeadlineSaga {
        @Step(1)
        create(): void {}
      }
      expect(bootError(BadDeadlineSaga)).toContain(
        "BadDeadlineSaga: 'deadlineMs' must be a positive number of milliseconds.",
      );
    });

    it('reports several problems together, one per line', () => {
      @SagaOrchestration({ name: 'many' })
      class ManySaga {
        @Step(1, { timeoutMs: 5 })
        create(): void {}
        @Step(2, { command: 'Charge' })
        charge(): void {}
        @Compensation('nope')
        undo(): void {}
      }
      const message = bootError(ManySaga);
      expect(message.split('\n')).toEqual([
        'Invalid saga ManySaga:',
        "  - ManySaga.charge names a command but no participant: add { participant: '<name>' }.",
        "  - ManySaga.undo is @Compensation('nope') but ManySaga has no step 'nope': use the step method's name.",
        expect.stringContaining(
          "  - ManySaga.create runs before the pivot step 'charge' but has no compensation",
        ),
        "  - ManySaga.create: 'timeoutMs' applies to remote steps only (it has no participant).",
      ]);
    });
  });
});
