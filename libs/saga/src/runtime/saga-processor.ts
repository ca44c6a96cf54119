import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { StepDefinition } from '../definition/saga-definition';
import { SagaConcurrencyError, StepFailure } from '../errors/saga.errors';
import { acceptsOutcome, dueAt, transition } from '../engine/saga-engine';
import type { EngineEnv, Transition } from '../engine/saga-engine';
import type { ExecuteAction, SagaEvent } from '../engine/saga-event';
import type { StepLogEntry } from '../engine/saga-state';
import type { SagaInstanceRecord, SagaStore, StepLogRecord } from '../persistence/saga-store';
import { SAGA_STORE } from '../saga.constants';
import type { SagaMessage } from '../transport/message';
import type { SagaContext } from './contexts';
import { describeFailure } from './failure';
import { abortsOptimisticRun, Isolation } from './optimistic';
import type { CommittedMessage } from './outbox-relay';
import type { RegisteredSaga } from './saga-registry';
import { SagaRuntimeOptions } from './runtime-options';
import { activeContext, traceparentOf } from './tracing';
import { uuidv7 } from './ids';

/** The outcome of applying one event to one saga inside a transaction. */
export interface Applied {
  record: SagaInstanceRecord;
  /** Set when the event did not apply (stale reply, nothing due) or an operator action was refused. */
  ignored?: string;
  rejected?: string;
}

/**
 * Everything the work of one transaction writes — the sagas it started or advanced, their history rows and the
 * outgoing messages — collected while it runs and written at its end by `commitWrites` (on PostgreSQL in one
 * statement, however many sagas a batch advanced).
 */
export class SagaWrites {
  /** Each saga's latest record, with the version it had when this transaction read it (null: inserted here). */
  readonly instances = new Map<string, { record: SagaInstanceRecord; readVersion: number | null }>();
  readonly log: StepLogRecord[] = [];
  readonly messages: SagaMessage[] = [];

  /** @param isolation how user code runs (see `runOptimistically`); by default in savepoints. */
  constructor(readonly isolation = new Isolation(true)) {}

  /** Records a saga's new state; `read` is the record this transaction loaded (undefined: a new saga). */
  save(saved: SagaInstanceRecord, read?: SagaInstanceRecord): void {
    const earlier = this.instances.get(saved.id);
    const readVersion = earlier ? earlier.readVersion : read ? read.version : null;
    this.instances.set(saved.id, { record: saved, readVersion });
  }
}

/**
 * Writes what `writes` collected, in the caller's transaction, and returns the outbox rows for the relay (to hand
 * over after the commit). Throws `SagaConcurrencyError` — the transaction must roll back, and is retried by the
 * caller — when a saga changed since this transaction read it. The transaction must run nothing after it (on
 * PostgreSQL its COMMIT is sent along with this write).
 */
export async function commitWrites(
  store: SagaStore,
  manager: EntityManager,
  writes: SagaWrites,
): Promise<CommittedMessage[]> {
  const inserted: SagaInstanceRecord[] = [];
  const updated: { record: SagaInstanceRecord; expectedVersion: number }[] = [];
  for (const { record, readVersion } of writes.instances.values()) {
    if (readVersion === null) inserted.push(record);
    else updated.push({ record, expectedVersion: readVersion });
  }
  const { messages } = writes;
  const result = await store.write(
    manager,
    {
      inserted,
      updated,
      log: writes.log,
      outbox: messages.map((m) => ({ messageId: m.messageId, body: JSON.stringify(m) })),
    },
    { last: true },
  );
  if (result.stale.length > 0) {
    const stale = updated.find((u) => u.record.id === result.stale[0])!;
    throw new SagaConcurrencyError(stale.record.id, stale.expectedVersion);
  }
  return result.outbox.map((row, i) => ({ ...row, message: messages[i] }));
}

/** A reply's data, passed to the step's `@OnReply` method before the engine sees the success. */
export interface ReplyData {
  payload: unknown;
}

/**
 * Applies events to saga instances inside the caller's transaction: runs the engine, executes local steps
 * (isolated: see `Isolation`), builds remote commands, and collects the new state, history and outbox rows in
 * `SagaWrites`; `flush` writes them (the version check included) at the end of the transaction. The caller owns the
 * transaction and hands the outbox rows to the relay after it commits.
 */
@Injectable()
export class SagaProcessor {
  constructor(
    @Inject(SAGA_STORE) private readonly store: SagaStore,
    private readonly options: SagaRuntimeOptions,
  ) {}

  async apply(
    manager: EntityManager,
    saga: RegisteredSaga,
    record: SagaInstanceRecord,
    event: SagaEvent,
    writes: SagaWrites,
    how: { isNew?: boolean; reply?: ReplyData } = {},
  ): Promise<Applied> {
    const { definition } = saga;
    const env: EngineEnv = { now: Date.now(), random: Math.random };
    const data = structuredClone(record.data);
    const { reply } = how;
    if (
      event.type === 'succeeded' &&
      reply &&
      acceptsOutcome(definition, record.state, event.step, event.phase, event.attempt, true)
    ) {
      event = await this.onReply(manager, saga, record, data, event, reply.payload, writes.isolation);
    }
    let t: Transition = transition(definition, record.state, event, env);
    if (t.ignored || t.rejected) return { record, ignored: t.ignored, rejected: t.rejected };

    const log: StepLogEntry[] = [];
    const messages: SagaMessage[] = [];
    for (;;) {
      log.push(...t.log);
      const action = t.actions[0];
      if (!action) break;
      const step = definition.steps.find((s) => s.name === action.step)!;
      const outcome = await this.execute(
        manager,
        saga,
        record,
        data,
        step,
        action,
        messages,
        writes.isolation,
      );
      if (!outcome) break;
      t = transition(definition, t.state, outcome, env);
    }

    const saved: SagaInstanceRecord = {
      ...record,
      state: t.state,
      currentStep: definition.steps[t.state.stepIndex].name,
      dueAt: dueAt(definition, t.state),
      data,
      version: record.version + 1,
      updatedAt: env.now,
    };
    writes.save(saved, how.isNew ? undefined : record);
    for (const entry of log) writes.log.push({ ...entry, sagaId: record.id });
    writes.messages.push(...messages);
    return { record: saved };
  }

  /** Writes what the transaction collected (see `commitWrites`); returns the outbox rows for the relay. */
  flush(manager: EntityManager, writes: SagaWrites): Promise<CommittedMessage[]> {
    return commitWrites(this.store, manager, writes);
  }

  /** Runs the reply handler; a throwing handler turns the success into a failure of the step. */
  private async onReply(
    manager: EntityManager,
    saga: RegisteredSaga,
    record: SagaInstanceRecord,
    data: Record<string, unknown>,
    event: Extract<SagaEvent, { type: 'succeeded' }>,
    payload: unknown,
    isolation: Isolation,
  ): Promise<SagaEvent> {
    const step = saga.definition.steps.find((s) => s.name === event.step)!;
    if (event.phase !== 'invoke' || !step.onReply) return event;
    const snapshot = structuredClone(data);
    try {
      await isolation.run(manager, `${record.id}/on-reply/${step.name}/${event.attempt}`, (tx) =>
        this.call(
          saga.instance,
          step.onReply!,
          this.context(tx, saga, record, data, step, event.attempt),
          payload,
        ),
      );
      return event;
    } catch (error) {
      if (abortsOptimisticRun(error)) throw error;
      restore(data, snapshot);
      return { ...event, type: 'failed', failure: describeFailure(error, step.isBusinessError) };
    }
  }

  /**
   * Executes an action: a local one runs now, in a savepoint, and its outcome is returned as the next
   * event; a remote one becomes a command in `messages` (its outcome arrives later, as a reply).
   */
  private async execute(
    manager: EntityManager,
    saga: RegisteredSaga,
    record: SagaInstanceRecord,
    data: Record<string, unknown>,
    step: StepDefinition,
    action: ExecuteAction,
    messages: SagaMessage[],
    isolation: Isolation,
  ): Promise<SagaEvent | undefined> {
    const { phase, attempt } = action;
    const target = phase === 'invoke' ? step.target : step.compensation!.target;
    const method = phase === 'invoke' ? step.method : step.compensation!.method;
    const base = { step: step.name, phase, attempt } as const;
    const snapshot = structuredClone(data);
    try {
      if (target.kind === 'local') {
        // If the step fails, its writes are undone and the saga's transaction goes on (see isolate()).
        await isolation.run(manager, `${record.id}/${step.name}/${phase}/${attempt}`, async (tx) => {
          const result = await this.call(
            saga.instance,
            method,
            this.context(tx, saga, record, data, step, attempt),
          );
          if (result instanceof StepFailure) throw result;
        });
        return { type: 'succeeded', ...base };
      }
      const payload = await this.call(
        saga.instance,
        method,
        this.context(manager, saga, record, data, step, attempt),
      );
      messages.push({
        messageId: uuidv7(),
        kind: 'command',
        type: target.command,
        sagaId: record.id,
        sagaType: saga.definition.name,
        ...base,
        destination: target.participant,
        replyTo: this.options.service,
        payload: payload ?? {},
        sentAt: new Date().toISOString(),
        // The span this transition runs in (a start, a reply, a timer), when the application traces.
        traceparent: traceparentOf(activeContext()),
      });
      return undefined;
    } catch (error) {
      if (abortsOptimisticRun(error)) throw error;
      restore(data, snapshot);
      return { type: 'failed', ...base, failure: describeFailure(error, step.isBusinessError) };
    }
  }

  private context(
    manager: EntityManager,
    saga: RegisteredSaga,
    record: SagaInstanceRecord,
    data: Record<string, unknown>,
    step: StepDefinition,
    attempt: number,
  ): SagaContext {
    return { sagaId: record.id, sagaType: saga.definition.name, data, manager, step: step.name, attempt };
  }

  private async call(instance: object, method: string, ...args: unknown[]): Promise<unknown> {
    const fn = (instance as Record<string, (...a: unknown[]) => unknown>)[method];
    return await fn.apply(instance, args);
  }
}

/** Puts `data` back as it was before a failed local action (its database writes were rolled back too). */
function restore(data: Record<string, unknown>, snapshot: Record<string, unknown>): void {
  for (const key of Object.keys(data)) delete data[key];
  Object.assign(data, snapshot);
}
