import type { EntityManager } from 'typeorm';

/** What a saga's step, compensation and reply-handler methods receive. */
export interface SagaContext<TData extends object = Record<string, unknown>> {
  readonly sagaId: string;
  readonly sagaType: string;
  /** The saga's data. Changes made here are saved with the saga, in the same transaction. */
  readonly data: TData;
  /** The coordinator's transaction: local steps write business rows through it, atomically with the saga. */
  readonly manager: EntityManager;
  /** The step being run or compensated. */
  readonly step: string;
  /** 1 on the first attempt, then 2, 3… on retries. */
  readonly attempt: number;
}

/** What a participant's `@HandleCommand` method receives besides the payload. */
export interface CommandContext {
  readonly sagaId: string;
  readonly sagaType: string;
  readonly step: string;
  readonly attempt: number;
  /** This message's id: unique per delivery attempt of the saga (a retry after a timeout gets a new one). */
  readonly messageId: string;
  /**
   * The same for every attempt of this step's action (or compensation) in this saga: `sagaId:step:phase`.
   * The inbox already drops redelivered messages; use this key (or a business unique key) to make the
   * handler idempotent across the coordinator's retries after a reply timeout.
   */
  readonly idempotencyKey: string;
  /** The transaction that also records the inbox row and the reply: write business rows through it. */
  readonly manager: EntityManager;
}
