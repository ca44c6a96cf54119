import type { Type } from '@nestjs/common';

/** How often, and how far apart, a step's action or compensation is tried. */
export interface RetryPolicy {
  /** Total attempts, the first included. `Infinity` retries until success. */
  attempts: number;
  /** Delay before the second attempt, in ms. */
  initialDelayMs: number;
  /** Each further delay is the previous one times this. */
  factor: number;
  /** Upper bound of one delay, in ms. */
  maxDelayMs: number;
  /** Fraction of each delay that is randomised (0 = none, 1 = full jitter). */
  jitter: number;
}

/** Decides whether an error thrown by a local step is a business failure (compensate at once). */
export type ErrorClassifier = (error: unknown) => boolean;

/** Where a step or compensation runs: in the coordinator's transaction, or as a command to a participant. */
export type ActionTarget = { kind: 'local' } | { kind: 'remote'; participant: string; command: string };

export interface CompensationDefinition {
  /** The saga method that runs the compensation (local) or builds its command payload (remote). */
  readonly method: string;
  readonly target: ActionTarget;
  readonly retry: RetryPolicy;
  /** Remote only: no reply within this many ms counts as a transient failure. */
  readonly timeoutMs?: number;
}

export interface StepDefinition {
  /** The step's name: its method's name. Unique within the saga. */
  readonly name: string;
  /** Position in the saga, from 0. */
  readonly index: number;
  /** The method that runs the step (local) or builds its command payload (remote). */
  readonly method: string;
  readonly target: ActionTarget;
  /** Remote only: the method that receives the reply data on success. */
  readonly onReply?: string;
  /** Present for every step before the pivot; absent for the pivot and the steps after it. */
  readonly compensation?: CompensationDefinition;
  readonly pivot: boolean;
  /** True for the steps after the pivot: retried until they succeed, never compensated. */
  readonly afterPivot: boolean;
  readonly retry: RetryPolicy;
  /** Remote only: no reply within this many ms counts as a transient failure (then retried). */
  readonly timeoutMs?: number;
  /** Local only: which thrown errors are business failures (the others are transient). */
  readonly isBusinessError: ErrorClassifier;
}

/** A validated, immutable saga definition, built from the decorators at boot. */
export interface SagaDefinition {
  readonly name: string;
  readonly version: number;
  /** The saga provider's class. */
  readonly target: Type<unknown>;
  /** The class-validator DTO of the saga's data, when declared. */
  readonly dataClass?: Type<object>;
  readonly steps: readonly StepDefinition[];
  /** Index of the pivot step (the last step when none is marked). */
  readonly pivotIndex: number;
  /** Time from start after which a saga that has not passed its pivot is compensated. */
  readonly deadlineMs?: number;
  /** `@SagaOrchestration({ sideEffects })`: false when its code's only effects are writes through `ctx.manager`. */
  readonly sideEffects: boolean;
}
