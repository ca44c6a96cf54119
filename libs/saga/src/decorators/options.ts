import type { Type } from '@nestjs/common';
import type { RetryPolicy } from '../definition/saga-definition';

/** Errors that count as business failures: classes (matched with `instanceof`) or a predicate. */
export type BusinessErrors = Type<Error>[] | ((error: unknown) => boolean);

export interface SagaOrchestrationOptions {
  /** The saga type's name, unique in the application and stable across deployments (it is stored). */
  name: string;
  /** A class-validator DTO: `start()` validates the data against it and rejects invalid data. */
  data?: Type<object>;
  /** Bump when the steps change incompatibly; stored on every instance. Default 1. */
  version?: number;
  /** Compensate a saga that has not passed its pivot this many ms after it started. Default: no deadline. */
  deadlineMs?: number;
  /**
   * `false` declares that the saga's code — steps, compensations, `@OnReply` methods, the methods building commands —
   * has no effect but its writes through `ctx.manager` and its changes to `ctx.data`. The coordinator may then apply
   * a reply to the saga as this process last committed it while it is still recording the reply in its inbox and
   * reading the saga (PostgreSQL with `database.pipelining`): a local step's statements go out behind that read
   * instead of after it. When the read shows the guess wrong — the reply a duplicate, the saga changed elsewhere —
   * that run is rolled back and the reply applied again from the stored saga. Default `true`.
   */
  sideEffects?: boolean;
}

export interface StepOptions {
  /** Remote step: the participant that handles the command. Omit for a local step. */
  participant?: string;
  /** Remote step: the command type. Default: the method name with its first letter upper-cased. */
  command?: string;
  /** The pivot: once it succeeds the saga can no longer be compensated; later steps are retried until they succeed. */
  pivot?: boolean;
  /** Retry of the step's action. Defaults: see `DEFAULT_STEP_RETRY`; steps after the pivot retry forever. */
  retry?: Partial<RetryPolicy>;
  /** Remote step: no reply within this many ms counts as a transient failure (then retried). Default: none. */
  timeoutMs?: number;
  /** Local step: which thrown errors are business failures (default: `StepFailure`); all others are retried. */
  businessErrors?: BusinessErrors;
}

export interface CompensationOptions {
  /** Remote compensation: the command type. Omit for a local compensation. */
  command?: string;
  /** Remote compensation: the participant (default: the step's participant). */
  participant?: string;
  /** Retry of the compensation. Defaults: see `DEFAULT_COMPENSATION_RETRY`. */
  retry?: Partial<RetryPolicy>;
  /** Remote compensation: reply timeout in ms (a transient failure). Default: none. */
  timeoutMs?: number;
}

export interface HandleCommandOptions {
  /** A class-validator DTO the payload must satisfy; an invalid command goes to the dead-letter queue. */
  payload?: Type<object>;
  /** Which thrown errors are business failures (default: `StepFailure`); others are transient and retried. */
  businessErrors?: BusinessErrors;
  /**
   * `false` declares that the handler's only effects are its writes through `ctx.manager` (no HTTP calls, no
   * messages, no files, no in-memory state kept): running it in a transaction that rolls back leaves no trace. The
   * library may then run it while the command's inbox row is still being written, instead of after (PostgreSQL with
   * `database.pipelining`: one round trip less per command); when that row shows a duplicate, the run is rolled
   * back and the command acknowledged, as ever. Default `true`: the handler runs only once the inbox has said the
   * command is new.
   */
  sideEffects?: boolean;
}

/** Metadata records (internal). */
export interface StepMetadata {
  method: string;
  order: number;
  options: StepOptions;
}
export interface CompensationMetadata {
  method: string;
  step: string;
  options: CompensationOptions;
}
export interface ReplyHandlerMetadata {
  method: string;
  step: string;
}
export interface CommandHandlerMetadata {
  method: string;
  command: string;
  options: HandleCommandOptions;
}
