import type { SagaDefinition, StepDefinition } from '../definition/saga-definition';
import type { FailureInfo, StepPhase } from '../transport/message';
import { backoffDelay } from './backoff';
import type { ExecuteAction, OperatorAction, SagaEvent } from './saga-event';
import type { LogPhase, SagaState, StepLogEntry } from './saga-state';
import { isTerminal } from './saga-state';

/** The world as the engine sees it: the time and a source of randomness (for jitter). Tests fix both. */
export interface EngineEnv {
  now: number;
  random: () => number;
}

/** The outcome of one event: the next state, what to execute, what to record. */
export interface Transition {
  state: SagaState;
  /** At most one: the action or compensation to run (local) or send (remote). */
  actions: ExecuteAction[];
  log: StepLogEntry[];
  /** Set when the event did not apply (a duplicate or late reply, a finished saga): nothing changes. */
  ignored?: string;
  /** Set when an operator action is not possible in this state: nothing changes. */
  rejected?: string;
}

/** The state of a saga that has not started yet; apply `{ type: 'start' }` to it. */
export function initialState(definition: SagaDefinition, now: number): SagaState {
  return {
    status: 'RUNNING',
    stepIndex: 0,
    phase: 'invoke',
    attempt: 0,
    awaiting: false,
    inDoubt: false,
    wakeAt: null,
    deadlineAt: definition.deadlineMs === undefined ? null : now + definition.deadlineMs,
    lastError: null,
  };
}

/**
 * True when the outcome of (step, phase, attempt) is one the saga takes: the awaited attempt's, or — for a
 * success — that of an earlier attempt which timed out (its command took effect after all: no need to retry).
 */
export function acceptsOutcome(
  definition: SagaDefinition,
  state: SagaState,
  step: string,
  phase: StepPhase,
  attempt: number,
  succeeded: boolean,
): boolean {
  if (isTerminal(state.status) || definition.steps[state.stepIndex]?.name !== step || state.phase !== phase) {
    return false;
  }
  if (state.awaiting && state.attempt === attempt) return true;
  return succeeded && state.inDoubt && attempt <= state.attempt;
}

/**
 * When the timer sweep must look at the saga again: its wake-up time, and its deadline while the deadline can
 * still act (not while the pivot is in flight or in doubt). Null for finished sagas.
 */
export function dueAt(definition: SagaDefinition, state: SagaState): number | null {
  if (state.status !== 'RUNNING' && state.status !== 'COMPENSATING') return null;
  const deadline = state.deadlineAt !== null && canCompensate(definition, state) ? state.deadlineAt : null;
  const times = [state.wakeAt, deadline].filter((t): t is number => t !== null);
  return times.length > 0 ? Math.min(...times) : null;
}

/**
 * Compensation is possible while running and before the pivot — or at the pivot while it is certainly not
 * taking effect (waiting for a retry after a plain failure). An in-flight pivot may commit: it is waited for.
 */
function canCompensate(definition: SagaDefinition, state: SagaState): boolean {
  const { status, stepIndex, phase, awaiting, inDoubt } = state;
  if (status !== 'RUNNING' || phase !== 'invoke') return false;
  return stepIndex < definition.pivotIndex || (stepIndex === definition.pivotIndex && !awaiting && !inDoubt);
}

/** The single pure transition function of the saga state machine. */
export function transition(
  definition: SagaDefinition,
  state: SagaState,
  event: SagaEvent,
  env: EngineEnv,
): Transition {
  const machine = new Machine(definition, state, env);
  switch (event.type) {
    case 'start':
      return machine.start();
    case 'succeeded':
      return machine.succeeded(event.step, event.phase, event.attempt);
    case 'failed':
      return machine.failed(event.step, event.phase, event.attempt, event.failure);
    case 'timer':
      return machine.timer();
    case 'operator':
      return machine.operator(event.action, event.reason);
  }
}

/** Builds one transition; a fresh instance per event, never reused. */
class Machine {
  private readonly log: StepLogEntry[] = [];
  private actions: ExecuteAction[] = [];

  constructor(
    private readonly def: SagaDefinition,
    private state: SagaState,
    private readonly env: EngineEnv,
  ) {}

  start(): Transition {
    if (this.state.attempt !== 0 || this.state.status !== 'RUNNING')
      return this.ignore('the saga has already started');
    return this.issue(0, 'invoke', 1).done();
  }

  succeeded(step: string, phase: StepPhase, attempt: number): Transition {
    if (!acceptsOutcome(this.def, this.state, step, phase, attempt, true))
      return this.ignore(this.staleReason(step, phase, attempt));
    this.record(this.outcomePhase(), 'succeeded', null, attempt);
    return this.advance().done();
  }

  failed(step: string, phase: StepPhase, attempt: number, failure: FailureInfo): Transition {
    if (!acceptsOutcome(this.def, this.state, step, phase, attempt, false))
      return this.ignore(this.staleReason(step, phase, attempt));
    return this.fail(failure, 'failed').done();
  }

  timer(): Transition {
    const { status, deadlineAt, wakeAt, awaiting } = this.state;
    if (isTerminal(status)) return this.ignore('the saga is finished');
    const now = this.env.now;
    if (deadlineAt !== null && now >= deadlineAt && this.canCompensate()) {
      this.record('deadline', 'passed', { deadlineAt });
      return this.compensate(
        {
          name: 'SagaDeadlineExceeded',
          message: `deadline passed at ${new Date(deadlineAt).toISOString()}`,
          transient: false,
        },
        awaiting || this.state.inDoubt,
      ).done();
    }
    if (wakeAt === null || now < wakeAt) return this.ignore('nothing is due yet');
    if (!awaiting) return this.issue(this.state.stepIndex, this.state.phase, this.state.attempt + 1).done();
    const timeoutMs = this.currentTimeoutMs();
    return this.fail(
      { name: 'StepTimeout', message: `no reply within ${timeoutMs} ms`, transient: true },
      'timed-out',
    ).done();
  }

  operator(action: OperatorAction, reason?: string): Transition {
    const { status } = this.state;
    if (status === 'COMPLETED' || status === 'COMPENSATED') return this.reject(`it is ${status}`);
    const detail = reason ? { reason } : null;
    switch (action) {
      case 'retry':
        if (status === 'COMPENSATION_FAILED') this.state = { ...this.state, status: 'COMPENSATING' };
        this.record(this.operatorPhase(), 'retried', detail);
        return this.issue(this.state.stepIndex, this.state.phase, this.state.attempt + 1).done();
      case 'resolve':
        if (status === 'COMPENSATION_FAILED') this.state = { ...this.state, status: 'COMPENSATING' };
        this.record(this.operatorPhase(), 'resolved', detail);
        return this.advance().done();
      case 'abort':
        if (!this.canCompensate()) {
          return this.reject(
            status === 'RUNNING'
              ? 'its pivot step has succeeded or may be taking effect: it can only go forward'
              : `it is already ${status}`,
          );
        }
        this.record(this.operatorPhase(), 'aborted', detail);
        return this.compensate(
          { name: 'SagaAborted', message: reason ?? 'aborted by an operator', transient: false },
          this.state.awaiting || this.state.inDoubt,
        ).done();
    }
  }

  // --- moves -------------------------------------------------------------------------------

  /** The current step's phase is done: go to the next step, or to the next compensation. */
  private advance(): this {
    const { stepIndex, phase } = this.state;
    if (phase === 'compensate') return this.compensateFrom(stepIndex - 1);
    const next = stepIndex + 1;
    if (stepIndex === this.def.pivotIndex) this.state = { ...this.state, deadlineAt: null };
    if (next < this.def.steps.length) return this.issue(next, 'invoke', 1);
    this.state = { ...this.state, status: 'COMPLETED', awaiting: false, wakeAt: null, deadlineAt: null };
    return this;
  }

  /** The current attempt failed: retry it, compensate, or give up on compensating. */
  private fail(failure: FailureInfo, outcome: 'failed' | 'timed-out'): this {
    const step = this.current();
    const { phase, attempt } = this.state;
    const retry = phase === 'invoke' ? step.retry : step.compensation!.retry;
    const timedOut = outcome === 'timed-out';
    const logPhase = !timedOut ? this.outcomePhase() : phase === 'invoke' ? 'timeout' : 'compensate-timeout';
    const inDoubt = this.state.inDoubt || timedOut;
    const mayRetry = step.afterPivot || phase === 'compensate' || failure.transient;
    // A pivot that may have taken effect cannot be given up (it has no compensation): retry until a definite reply.
    const forward = step.afterPivot || (step.pivot && phase === 'invoke' && inDoubt);
    if (mayRetry && (forward || attempt < retry.attempts)) {
      const retryAt = this.env.now + backoffDelay(retry, attempt, this.env.random);
      this.record(logPhase, outcome, { ...failure, retryAt });
      this.state = { ...this.state, awaiting: false, inDoubt, wakeAt: retryAt, lastError: failure };
      return this;
    }
    this.record(logPhase, outcome, { ...failure });
    if (phase === 'compensate') {
      this.state = {
        ...this.state,
        status: 'COMPENSATION_FAILED',
        awaiting: false,
        wakeAt: null,
        lastError: failure,
      };
      return this;
    }
    // A timed-out remote step may still take effect: compensate it too (compensations must tolerate "nothing to undo").
    return this.compensate(failure, inDoubt);
  }

  /** Starts compensating, from the current step (when its effect may exist) or the one before it. */
  private compensate(failure: FailureInfo, includeCurrent: boolean): this {
    this.state = { ...this.state, status: 'COMPENSATING', deadlineAt: null, lastError: failure };
    const from =
      includeCurrent && this.current().compensation ? this.state.stepIndex : this.state.stepIndex - 1;
    return this.compensateFrom(from);
  }

  /** Issues the compensation of the nearest compensatable step at or before `index`, or ends the saga. */
  private compensateFrom(index: number): this {
    for (let i = index; i >= 0; i--) {
      if (this.def.steps[i].compensation) {
        this.state = { ...this.state, status: 'COMPENSATING' };
        return this.issue(i, 'compensate', 1);
      }
    }
    this.state = { ...this.state, status: 'COMPENSATED', awaiting: false, wakeAt: null, deadlineAt: null };
    return this;
  }

  /** Runs (local) or sends (remote) a step's action or compensation. */
  private issue(stepIndex: number, phase: StepPhase, attempt: number): this {
    const step = this.def.steps[stepIndex];
    const target = phase === 'invoke' ? step.target : step.compensation!.target;
    const timeoutMs = phase === 'invoke' ? step.timeoutMs : step.compensation!.timeoutMs;
    const remote = target.kind === 'remote';
    const sameAction = stepIndex === this.state.stepIndex && phase === this.state.phase;
    this.state = {
      ...this.state,
      stepIndex,
      phase,
      attempt,
      awaiting: true,
      inDoubt: sameAction && this.state.inDoubt,
      wakeAt: remote && timeoutMs !== undefined ? this.env.now + timeoutMs : null,
    };
    if (remote) this.record(phase, 'sent');
    this.actions = [{ type: 'execute', step: step.name, phase, attempt }];
    return this;
  }

  // --- helpers ------------------------------------------------------------------------------

  private current(): StepDefinition {
    return this.def.steps[this.state.stepIndex];
  }

  private canCompensate(): boolean {
    return canCompensate(this.def, this.state);
  }

  /** Operator actions on a compensation get their own log phase, so they never collide with the action's. */
  private operatorPhase(): LogPhase {
    return this.state.phase === 'compensate' ? 'compensate-operator' : 'operator';
  }

  private currentTimeoutMs(): number | undefined {
    const step = this.current();
    return this.state.phase === 'invoke' ? step.timeoutMs : step.compensation?.timeoutMs;
  }

  /** The log phase of an outcome: `reply`/`compensate-reply` for remote actions, `invoke`/`compensate` for local ones. */
  private outcomePhase(): LogPhase {
    const step = this.current();
    const { phase } = this.state;
    const target = phase === 'invoke' ? step.target : step.compensation!.target;
    if (target.kind === 'local') return phase;
    return phase === 'invoke' ? 'reply' : 'compensate-reply';
  }

  private record(
    phase: LogPhase,
    outcome: StepLogEntry['outcome'],
    detail: StepLogEntry['detail'] = null,
    attempt = this.state.attempt,
  ): void {
    this.log.push({ step: this.current().name, phase, attempt, outcome, detail, at: this.env.now });
  }

  private staleReason(step: string, phase: StepPhase, attempt: number): string {
    if (isTerminal(this.state.status)) return `the saga is ${this.state.status}`;
    return `not awaiting ${step}/${phase}#${attempt} (duplicate or late reply)`;
  }

  private done(): Transition {
    return { state: this.state, actions: this.actions, log: this.log };
  }

  private ignore(reason: string): Transition {
    return { state: this.state, actions: [], log: [], ignored: reason };
  }

  private reject(reason: string): Transition {
    return { state: this.state, actions: [], log: [], rejected: `cannot do that: ${reason}` };
  }
}
