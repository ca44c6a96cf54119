import { Injectable } from '@nestjs/common';
import { metrics, type Counter, type Histogram } from '@opentelemetry/api';
import { isTerminal } from '../engine/saga-state';
import type { SagaInstanceRecord } from '../persistence/saga-store';

/**
 * OpenTelemetry metrics through `@opentelemetry/api`, recorded by this process (meter `nestjs-saga`):
 *
 * - `saga.transitions` (counter): committed saga transitions, by `saga.type` and the `saga.status` they led to;
 * - `saga.finished` (counter) and `saga.duration` (histogram, ms, start → terminal state): sagas that reached a
 *   terminal status (COMPLETED, COMPENSATED, COMPENSATION_FAILED), by `saga.type` and `saga.status`;
 * - `saga.commands` (counter): commands a participant handled, by `saga.participant`, `saga.command` and
 *   `saga.outcome` (`success`/`failure`);
 * - `saga.outbox.published` and `saga.outbox.publish_failures` (counters): messages the relay published, and those
 *   whose publish failed (the sweep sends them again);
 * - `saga.inbox.duplicates` (counter): messages an inbox found processed before (a redelivery after a crash, a
 *   re-publish by the sweep), acknowledged without effect, by `saga.consumer` (`participant:<name>` or
 *   `coordinator:<service>`); counted once the transaction that found them has committed;
 * - `saga.coordinator.guesses` (counter): reply batches the coordinator applied ahead of reading their sagas
 *   (`@SagaOrchestration({ sideEffects: false })`), by `saga.guess`: `right`, `stale` (a saga had changed since this
 *   process saved it: another replica, an operator) or `duplicate` (a reply processed before); the last two were
 *   rolled back and applied again from the stored sagas.
 *
 * The instruments are created when the module starts: register the application's MeterProvider before (as one does
 * for any instrumented library); without one they are the API's no-ops.
 */
@Injectable()
export class SagaMetrics {
  private readonly transitions: Counter;
  private readonly finished: Counter;
  private readonly duration: Histogram;
  private readonly commands: Counter;
  private readonly published: Counter;
  private readonly publishFailures: Counter;
  private readonly duplicates: Counter;
  private readonly guesses: Counter;

  constructor() {
    const meter = metrics.getMeter('nestjs-saga');
    const counter = (name: string, description: string) => meter.createCounter(name, { description });
    this.transitions = counter(
      'saga.transitions',
      'Committed saga transitions, by saga type and the status they led to',
    );
    this.finished = counter('saga.finished', 'Sagas that reached a terminal status');
    this.duration = meter.createHistogram('saga.duration', {
      description: 'Time from a saga start to its terminal status',
      unit: 'ms',
    });
    this.commands = counter('saga.commands', 'Commands handled by a participant, by outcome');
    this.published = counter('saga.outbox.published', 'Messages the outbox relay published');
    this.publishFailures = counter(
      'saga.outbox.publish_failures',
      'Messages whose publish failed (left for the sweep)',
    );
    this.duplicates = counter(
      'saga.inbox.duplicates',
      'Messages an inbox found processed before, acknowledged without effect',
    );
    this.guesses = counter(
      'saga.coordinator.guesses',
      'Reply batches applied ahead of reading their sagas, by whether the guess proved right',
    );
  }

  /** A committed transition of `record` (its state after the transition). */
  transition(record: SagaInstanceRecord): void {
    const attributes = { 'saga.type': record.type, 'saga.status': record.state.status };
    this.transitions.add(1, attributes);
    if (!isTerminal(record.state.status)) return;
    this.finished.add(1, attributes);
    this.duration.record(Math.max(0, record.updatedAt - record.createdAt), attributes);
  }

  command(participant: string, command: string, outcome: 'success' | 'failure'): void {
    this.commands.add(1, {
      'saga.participant': participant,
      'saga.command': command,
      'saga.outcome': outcome,
    });
  }

  publish(count: number, ok: boolean): void {
    (ok ? this.published : this.publishFailures).add(count);
  }

  /** `count` messages that `consumer`'s inbox had recorded before (call once their transaction has committed). */
  duplicate(consumer: string, count: number): void {
    if (count > 0) this.duplicates.add(count, { 'saga.consumer': consumer });
  }

  /** A reply batch applied ahead of reading its sagas, and how the guess turned out. */
  guess(outcome: 'right' | 'stale' | 'duplicate'): void {
    this.guesses.add(1, { 'saga.guess': outcome });
  }
}
