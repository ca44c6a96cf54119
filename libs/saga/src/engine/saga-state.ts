import type { FailureInfo, StepPhase } from '../transport/message';

export const SAGA_STATUSES = [
  'RUNNING',
  'COMPENSATING',
  'COMPLETED',
  'COMPENSATED',
  'COMPENSATION_FAILED',
] as const;
export type SagaStatus = (typeof SAGA_STATUSES)[number];
export const TERMINAL_STATUSES: readonly SagaStatus[] = ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'];

export function isTerminal(status: SagaStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/**
 * The part of a saga instance the engine reads and writes. Everything else (id, data, version)
 * belongs to the runtime.
 */
export interface SagaState {
  status: SagaStatus;
  /** The step being run (phase `invoke`) or compensated (phase `compensate`). */
  stepIndex: number;
  phase: StepPhase;
  /** Attempt number of the current step's phase, from 1. */
  attempt: number;
  /** A command (or a local action) has been issued and its outcome is awaited. */
  awaiting: boolean;
  /**
   * An earlier attempt of the current step's phase timed out: its command may still take effect, so the step is
   * compensated too if the saga compensates, and a late success of that attempt is accepted.
   */
  inDoubt: boolean;
  /** When awaiting: the reply deadline (timeout); otherwise: when the next attempt is due. Epoch ms. */
  wakeAt: number | null;
  /** When the saga is compensated if it has not passed its pivot by then. Epoch ms. */
  deadlineAt: number | null;
  /** The failure that made the saga compensate, or the last compensation failure. */
  lastError: FailureInfo | null;
}

/** What an event or an operator did, as recorded in `saga_step_log`. */
export type LogPhase =
  | 'invoke'
  | 'reply'
  | 'timeout'
  | 'compensate'
  | 'compensate-reply'
  | 'compensate-timeout'
  | 'deadline'
  | 'operator'
  | 'compensate-operator';
export type LogOutcome =
  'sent' | 'succeeded' | 'failed' | 'timed-out' | 'retrying' | 'resolved' | 'retried' | 'aborted' | 'passed';

export interface StepLogEntry {
  step: string;
  phase: LogPhase;
  attempt: number;
  outcome: LogOutcome;
  /** Failure details, or other data worth keeping (e.g. when the next attempt is due). */
  detail?: Record<string, unknown> | null;
  /** Epoch ms. */
  at: number;
}
