import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { StepFailure } from '../errors/saga.errors';
import type { SagaStore } from '../persistence/saga-store';
import { SagaTransactions } from '../persistence/typeorm/transactions';
import { SAGA_STORE } from '../saga.constants';
import type { SagaMessage } from '../transport/message';
import type { Disposition, IncomingMessage } from '../transport/transport';
import type { CommandContext } from './contexts';
import { describeFailure } from './failure';
import { recordFresh } from './inbox';
import { abortsOptimisticRun, aheadOf, guessedWrong, Isolation, runOptimistically } from './optimistic';
import { SagaMetrics } from './metrics';
import { OutboxRelay } from './outbox-relay';
import { validateAgainst } from './payload-validation';
import { commitWrites, SagaWrites } from './saga-processor';
import { SagaRegistry } from './saga-registry';
import type { RegisteredCommandHandler } from './saga-registry';
import {
  endMessageSpans,
  markFailed,
  runIn,
  SAGA_ATTRIBUTES,
  startMessageSpan,
  traceparentOf,
  type Traced,
} from './tracing';
import { uuidv7 } from './ids';

interface Prepared {
  message: SagaMessage;
  handler: RegisteredCommandHandler;
  payload: unknown;
  /** Its span, once it is going to run. */
  trace?: Traced;
}

/**
 * Executes commands for the participants of this application. The commands of a batch run in ONE
 * transaction: the inbox rows (a duplicate's handler is skipped), each handler's business writes (in a
 * savepoint, so a failing handler undoes only its own writes) and the replies' outbox rows commit together;
 * the messages are acknowledged after the commit. If the batch transaction fails, each command is retried alone.
 */
@Injectable()
export class ParticipantRuntime {
  private readonly logger = new Logger(ParticipantRuntime.name);

  constructor(
    private readonly registry: SagaRegistry,
    private readonly transactions: SagaTransactions,
    @Inject(SAGA_STORE) private readonly store: SagaStore,
    private readonly relay: OutboxRelay,
    private readonly metrics: SagaMetrics,
  ) {}

  async handleCommands(participant: string, batch: IncomingMessage[]): Promise<Disposition[]> {
    const dispositions: Disposition[] = [];
    const prepared: Prepared[] = [];
    for (const { message } of batch) {
      const result = await this.prepare(participant, message);
      if ('reason' in result) {
        this.logger.warn(`Command ${message.messageId} rejected: ${result.reason}`);
        dispositions.push({ kind: 'reject', reason: result.reason });
      } else {
        dispositions.push({ kind: 'ack' });
        prepared.push(result);
      }
    }
    if (prepared.length === 0) return dispositions;
    // One span per command (see `tracing.ts`), whichever transaction ends up running it, under the command's.
    const spans = new Map<string, Traced>();
    for (const p of prepared) {
      p.trace = startMessageSpan(`saga command ${p.message.type}`, p.message, {
        [SAGA_ATTRIBUTES.participant]: participant,
      });
      spans.set(p.message.messageId, p.trace);
    }
    const result = await this.executeAll(participant, batch, prepared, dispositions);
    endMessageSpans(batch, result, spans, 'not handled: will be redelivered');
    return result;
  }

  /** All in one transaction; if that fails, one by one, so that one bad command cannot hold back the others. */
  private async executeAll(
    participant: string,
    batch: IncomingMessage[],
    prepared: Prepared[],
    dispositions: Disposition[],
  ): Promise<Disposition[]> {
    try {
      await this.execute(participant, prepared);
      return dispositions;
    } catch (error) {
      if (prepared.length > 1)
        this.logger.debug(`Command batch failed, running one by one: ${String(error)}`);
    }
    const single = new Map<string, Disposition>();
    for (const p of prepared) {
      try {
        await this.execute(participant, [p]);
        single.set(p.message.messageId, { kind: 'ack' });
      } catch (error) {
        this.logger.warn(`Command ${p.message.messageId} failed, will be redelivered: ${String(error)}`);
        single.set(p.message.messageId, { kind: 'retry' });
      }
    }
    return batch.map(({ message }, i) => single.get(message.messageId) ?? dispositions[i]);
  }

  /** Checks a command before it runs: a known type for this participant, a reply address, a valid payload. */
  private async prepare(participant: string, message: SagaMessage): Promise<Prepared | { reason: string }> {
    if (message.kind !== 'command') return { reason: `expected a command, got a ${message.kind}` };
    const handler = this.registry.handler(participant, message.type);
    if (!handler)
      return { reason: `unknown command type '${message.type}' for participant '${participant}'` };
    if (!message.replyTo) return { reason: `command has no 'replyTo'` };
    if (!handler.payloadClass) return { message, handler, payload: message.payload };
    const { value, errors } = await validateAgainst(handler.payloadClass, message.payload);
    if (errors.length > 0) {
      return {
        reason: `invalid payload for '${message.type}': ${errors.map((e) => `${e.property} (${e.constraints.join('; ')})`).join(', ')}`,
      };
    }
    return { message, handler, payload: value };
  }

  private async execute(participant: string, commands: Prepared[]): Promise<void> {
    const consumer = `participant:${participant}`;
    await runOptimistically(
      this.transactions,
      async (manager, isolation) => {
        const writes = new SagaWrites(isolation);
        const inbox = () => recordFresh(this.store, manager, consumer, commands, (c) => c.message.messageId);
        let duplicates = 0;
        if (
          isolation.mayGuess &&
          this.canRunAhead(commands) &&
          this.transactions.overlapsStatements(manager)
        ) {
          writes.messages.push(...(await this.runAhead(manager, commands, isolation, inbox())));
        } else {
          const { fresh } = await inbox();
          duplicates = commands.length - fresh.length;
          for (const command of fresh) writes.messages.push(await this.run(manager, command, isolation));
        }
        const rows = await commitWrites(this.store, manager, writes);
        // Registered inside the transaction: on PostgreSQL the relay gets the rows as soon as the COMMIT is
        // answered, before the connection goes back to the pool.
        const replies = writes.messages;
        this.transactions.afterCommit(() => {
          this.relay.enqueue(rows);
          for (const reply of replies)
            this.metrics.command(participant, reply.type, reply.outcome ?? 'success');
          this.metrics.duplicate(consumer, duplicates);
        }, manager);
      },
      { stepAside: true }, // acks and the rest wait while the messages go out (see `RunOptions.stepAside`)
    );
  }

  /** Every handler declared `sideEffects: false`, and no message is in the batch twice (a sure duplicate). */
  private canRunAhead(commands: Prepared[]): boolean {
    if (commands.some((c) => c.handler.sideEffects)) return false;
    return new Set(commands.map((c) => c.message.messageId)).size === commands.length;
  }

  /**
   * Runs the handlers while the batch's inbox rows are being written (`recording`), when every handler declared
   * `sideEffects: false`: the inbox statement and the first handler's statements share the wait for PostgreSQL.
   * If the inbox shows a duplicate — also when a handler failed, maybe on its earlier run's writes — the
   * transaction is rolled back and run again reading the inbox first, where duplicates are skipped (see `aheadOf`).
   */
  private runAhead(
    manager: EntityManager,
    commands: Prepared[],
    isolation: Isolation,
    recording: Promise<{ fresh: Prepared[] }>,
  ): Promise<SagaMessage[]> {
    return aheadOf(
      recording,
      async () => {
        const replies: SagaMessage[] = [];
        for (const command of commands) replies.push(await this.run(manager, command, isolation));
        return replies;
      },
      ({ fresh }) => {
        if (fresh.length < commands.length) {
          throw guessedWrong(
            `${commands.length - fresh.length} of ${commands.length} commands were processed before`,
          );
        }
      },
    );
  }

  /** Runs one handler with its command's span active (its own spans nest under it) and builds its reply. */
  private async run(manager: EntityManager, prepared: Prepared, isolation: Isolation): Promise<SagaMessage> {
    const { message, trace } = prepared;
    if (!trace) return this.runHandler(manager, prepared, isolation, message.traceparent);
    const reply = await runIn(trace, () =>
      this.runHandler(manager, prepared, isolation, traceparentOf(trace.ctx) ?? message.traceparent),
    );
    trace.span.setAttribute(SAGA_ATTRIBUTES.outcome, reply.outcome!);
    if (reply.failure) markFailed(trace.span, reply.failure.message);
    return reply;
  }

  /** Runs one handler (isolated: its writes are undone if it fails) and builds its reply. */
  private async runHandler(
    manager: EntityManager,
    { message, handler, payload }: Prepared,
    isolation: Isolation,
    traceparent: string | undefined,
  ): Promise<SagaMessage> {
    const reply = {
      messageId: uuidv7(),
      kind: 'reply' as const,
      type: message.type,
      sagaId: message.sagaId,
      sagaType: message.sagaType,
      step: message.step,
      phase: message.phase,
      attempt: message.attempt,
      destination: message.replyTo!,
      sentAt: new Date().toISOString(),
      traceparent,
    };
    try {
      const result = await isolation.run(manager, message.messageId, async (tx) => {
        const ctx: CommandContext = {
          sagaId: message.sagaId,
          sagaType: message.sagaType,
          step: message.step,
          attempt: message.attempt,
          messageId: message.messageId,
          idempotencyKey: `${message.sagaId}:${message.step}:${message.phase}`,
          manager: tx,
        };
        const value = await handler.invoke(payload, ctx);
        if (value instanceof StepFailure) throw value;
        return value;
      });
      return { ...reply, outcome: 'success', payload: result ?? {} };
    } catch (error) {
      if (abortsOptimisticRun(error)) throw error;
      const failure = describeFailure(error, handler.isBusinessError);
      if (failure.transient)
        this.logger.warn(
          `${handler.where} failed (transient) for saga ${message.sagaId}: ${failure.message}`,
        );
      return { ...reply, outcome: 'failure', payload: {}, failure };
    }
  }
}
