import type { FailureInfo, StepPhase } from '../transport/message';

/** The inputs of the engine. Time is always passed in: the engine reads no clock. */
export type SagaEvent =
  /** A new saga: run the first step. */
  | { type: 'start' }
  /** A step's action or compensation succeeded (a local action returned, or a success reply arrived). */
  | { type: 'succeeded'; step: string; phase: StepPhase; attempt: number }
  /** A step's action or compensation failed (a local action threw, or a failure reply arrived). */
  | { type: 'failed'; step: string; phase: StepPhase; attempt: number; failure: FailureInfo }
  /** The saga's wake-up time came: a retry is due, a reply timed out, or the deadline passed. */
  | { type: 'timer' }
  /** An operator's command. */
  | { type: 'operator'; action: OperatorAction; reason?: string };

/**
 * `retry`: run the current step's phase again now (e.g. a compensation that exhausted its retries);
 * `resolve`: record the current step's phase as done by hand and go on;
 * `abort`: compensate now (only before the pivot has succeeded).
 */
export type OperatorAction = 'retry' | 'resolve' | 'abort';

/** What the runtime must do after a transition. */
export interface ExecuteAction {
  type: 'execute';
  step: string;
  phase: StepPhase;
  attempt: number;
}
