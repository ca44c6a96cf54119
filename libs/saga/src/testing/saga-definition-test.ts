import { AssertionError } from 'node:assert';
import type { Type } from '@nestjs/common';
import { buildSagaDefinition } from '../definition/build-saga-definition';
import type { ActionTarget, SagaDefinition } from '../definition/saga-definition';
import { initialState, transition } from '../engine/saga-engine';
import type { Transition } from '../engine/saga-engine';
import type { OperatorAction, SagaEvent } from '../engine/saga-event';
import type { SagaState, SagaStatus, StepLogEntry } from '../engine/saga-state';
import type { FailureInfo, StepPhase } from '../transport/message';

export interface SagaTestOptions {
  /** The fixed clock's start, in epoch ms. Default: 2023-11-14T22:13:20Z (1_700_000_000_000). */
  now?: number;
  /** What the fixed random source returns, in [0, 1]. Default 0: retry delays get no jitter. */
  random?: number;
}

/** One execution of a step's action or compensation: what a reply answers. */
export interface ActionRef {
  step: string;
  phase: StepPhase;
  attempt: number;
}

/**
 * Drives a saga definition through the pure engine, with a fixed clock and a fixed random source, and
 * asserts on what it asks to run. No database, broker or Nest app: the saga's methods are never called.
 * Every event also checks that the step log keeps its unique key (step, phase, attempt).
 *
 * @example
 * const t = sagaDefinitionTest(PlaceOrderSaga).start();
 * t.expectExecute('create', 'invoke', 1).succeed();
 * t.expectCommand('charge').to('payment').ofType('ChargePayment');
 * t.fail({ message: 'declined' }).expectExecute('create', 'compensate', 1);
 * t.succeed().expectStatus('COMPENSATED');
 */
export function sagaDefinitionTest(saga: Type<unknown>, options: SagaTestOptions = {}): SagaDefinitionTest {
  return new SagaDefinitionTest(buildSagaDefinition(saga), options);
}

export class SagaDefinitionTest {
  private current: SagaState;
  private clock: number;
  private readonly random: () => number;
  private readonly log: StepLogEntry[] = [];
  private lastTransition: Transition | undefined;

  constructor(
    readonly definition: SagaDefinition,
    options: SagaTestOptions = {},
  ) {
    this.clock = options.now ?? 1_700_000_000_000;
    const random = options.random ?? 0;
    this.random = () => random;
    this.current = initialState(definition, this.clock);
  }

  /** The saga's current state. */
  get state(): SagaState {
    return this.current;
  }

  /** The fixed clock, in epoch ms. */
  get now(): number {
    return this.clock;
  }

  /** The engine's answer to the last event. */
  get last(): Transition {
    if (!this.lastTransition) throw new Error('No event yet: call start() first.');
    return this.lastTransition;
  }

  /** Applies any event to the saga. */
  apply(event: SagaEvent): this {
    const t = transition(this.definition, this.current, event, { now: this.clock, random: this.random });
    this.lastTransition = t;
    this.current = t.state;
    this.log.push(...t.log);
    assertUniqueStepLog(this.log);
    return this;
  }

  start(): this {
    return this.apply({ type: 'start' });
  }

  /**
   * The awaited action (or `of`) succeeded: a local step returned, or a success reply arrived. `of` may name an
   * earlier attempt, e.g. one that timed out but took effect after all.
   */
  succeed(of?: ActionRef): this {
    return this.apply({ type: 'succeeded', ...(of ?? this.awaited()) });
  }

  /** The awaited action (or `of`, e.g. an earlier attempt) failed. Default: a business failure (`transient: false`). */
  fail(failure: Partial<FailureInfo> = {}, of?: ActionRef): this {
    const info: FailureInfo = { name: 'StepFailure', message: 'failed', transient: false, ...failure };
    return this.apply({ type: 'failed', ...(of ?? this.awaited()), failure: info });
  }

  /** The saga's timer fires at the current time. */
  timer(): this {
    return this.apply({ type: 'timer' });
  }

  advanceTime(ms: number): this {
    this.clock += ms;
    return this;
  }

  /** Moves the clock to the saga's `wakeAt` (a retry or a reply timeout) and fires the timer. */
  wake(): this {
    const { wakeAt } = this.current;
    if (wakeAt === null) throw new Error(`The saga has nothing to wake up for (${this.describeState()}).`);
    this.clock = Math.max(this.clock, wakeAt);
    return this.timer();
  }

  operator(action: OperatorAction, reason?: string): this {
    return this.apply({ type: 'operator', action, reason });
  }

  /** The last event asked to run (local) or send (remote) exactly this action. */
  expectExecute(step: string, phase: StepPhase, attempt: number): this {
    const wanted = `${step}/${phase}#${attempt}`;
    check(this.describeActions() === wanted, `expected to execute ${wanted}`, this.describeActions(), wanted);
    return this;
  }

  /** The last event asked to send a command for `step` (by default its action, at any attempt). */
  expectCommand(step: string, options: { phase?: StepPhase; attempt?: number } = {}): CommandExpectation {
    const { phase = 'invoke', attempt = this.last.actions[0]?.attempt } = options;
    const wanted = `${step}/${phase}#${attempt}`;
    check(
      this.describeActions() === wanted,
      `expected a command for ${wanted}`,
      this.describeActions(),
      wanted,
    );
    const def = this.definition.steps.find((s) => s.name === step)!;
    const target = phase === 'invoke' ? def.target : def.compensation!.target;
    check(target.kind === 'remote', `expected ${step}/${phase} to be remote`, target.kind, 'remote');
    return new CommandExpectation(this, target);
  }

  /** The last event asked to execute nothing (it may still have changed the state). */
  expectNoAction(): this {
    check(this.last.actions.length === 0, 'expected no action', this.describeActions(), 'nothing');
    return this;
  }

  expectStatus(status: SagaStatus): this {
    check(this.current.status === status, `expected status ${status}`, this.current.status, status);
    return this;
  }

  /** The last event did not apply (duplicate or late reply, nothing due, finished saga). */
  expectIgnored(reason?: string | RegExp): this {
    return this.expectRefusal('ignored', reason);
  }

  /** The last operator action was refused. */
  expectRejected(reason?: string | RegExp): this {
    return this.expectRefusal('rejected', reason);
  }

  /** Every step log entry so far, in order. */
  history(): StepLogEntry[] {
    return this.log.map((e) => ({ ...e }));
  }

  /** The history as `'step phase#attempt outcome'` lines, for compact assertions. */
  trail(): string[] {
    return this.log.map((e) => `${e.step} ${e.phase}#${e.attempt} ${e.outcome}`);
  }

  private awaited(): ActionRef {
    const { stepIndex, phase, attempt, awaiting } = this.current;
    if (!awaiting)
      throw new Error(`No action is awaited (${this.describeState()}): pass { step, phase, attempt }.`);
    return { step: this.definition.steps[stepIndex].name, phase, attempt };
  }

  private expectRefusal(kind: 'ignored' | 'rejected', reason: string | RegExp = ''): this {
    const text = this.last[kind];
    const ok = text !== undefined && (typeof reason === 'string' ? text.includes(reason) : reason.test(text));
    check(ok, `expected the event to be ${kind} (${String(reason)})`, this.describeActions(), reason);
    return this;
  }

  private describeActions(): string {
    const t = this.last;
    if (t.ignored) return `nothing (ignored: ${t.ignored})`;
    if (t.rejected) return `nothing (rejected: ${t.rejected})`;
    return t.actions.map((a) => `${a.step}/${a.phase}#${a.attempt}`).join(', ') || 'nothing';
  }

  private describeState(): string {
    const { status, stepIndex, phase, attempt, inDoubt, wakeAt } = this.current;
    const doubt = inDoubt ? ', in doubt' : '';
    return `${status} at ${this.definition.steps[stepIndex]?.name}/${phase}#${attempt}${doubt}, wakeAt ${wakeAt}`;
  }
}

/** Assertions on a command the saga sends; `and()` returns to the saga. */
export class CommandExpectation {
  constructor(
    private readonly test: SagaDefinitionTest,
    private readonly target: Extract<ActionTarget, { kind: 'remote' }>,
  ) {}

  to(participant: string): this {
    const actual = this.target.participant;
    check(actual === participant, 'expected participant', actual, participant);
    return this;
  }

  ofType(command: string): this {
    check(this.target.command === command, 'expected command type', this.target.command, command);
    return this;
  }

  and(): SagaDefinitionTest {
    return this.test;
  }
}

/** Throws if two entries share (step, phase, attempt): the step log's unique key would reject the second. */
export function assertUniqueStepLog(entries: readonly StepLogEntry[]): void {
  const seen = new Map<string, StepLogEntry>();
  for (const e of entries) {
    const key = `${e.step}/${e.phase}#${e.attempt}`;
    const first = seen.get(key);
    if (first) {
      throw new AssertionError({
        message: `The step log has two entries for ${key} (${first.outcome}, then ${e.outcome}): its unique key would reject the second.`,
        actual: [first, e],
        expected: [first],
      });
    }
    seen.set(key, e);
  }
}

function check(ok: boolean, message: string, actual: unknown, expected: unknown): asserts ok {
  if (!ok) throw new AssertionError({ message: `${message}, but got ${String(actual)}`, actual, expected });
}
