import { Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { isTerminal } from '../engine/saga-state';
import type { SagaInstanceRecord } from '../persistence/saga-store';
import { storedForm } from '../persistence/typeorm/instance-rows';

/** Sagas remembered at most; past it the oldest are forgotten (a forgotten saga is only read before it is applied). */
const MAX_SAGAS = 10_000;
/** How many of the latest guesses are weighed, how many of them may be wrong, and how often to try again past that. */
const WEIGHED = 32;
const TOLERATED_MISSES = 4;
const RETRY_EVERY = 256;

/**
 * The sagas this process committed last, of the types declared `@SagaOrchestration({ sideEffects: false })`, as
 * reading them back returns them: what the coordinator applies a reply to while it is still reading the saga (see
 * `SagaCoordinator`). Only a guess — the saga read in the same transaction must be equal to it, or the run is
 * rolled back — so a saga changed by another process or replica costs a run, never a wrong result. A terminal saga
 * is forgotten.
 */
@Injectable()
export class SagaInstanceCache {
  private readonly sagas = new Map<string, SagaInstanceRecord>();
  /** The latest guesses, true for a right one. */
  private readonly outcomes: boolean[] = [];
  private skipped = 0;

  /**
   * Whether guessing pays here: not while more than a few of the latest guesses were wrong — as when several
   * coordinator replicas take turns with one saga's replies, each remembering an older version — except one batch in
   * `RETRY_EVERY`, which tries again (the deployment may have changed).
   */
  worthGuessing(): boolean {
    if (this.outcomes.filter((right) => !right).length <= TOLERATED_MISSES) return true;
    return ++this.skipped % RETRY_EVERY === 0;
  }

  /** Records whether a guess proved right. */
  guessed(right: boolean): void {
    this.outcomes.push(right);
    if (this.outcomes.length > WEIGHED) this.outcomes.shift();
  }

  /** Remembers `record` as just committed (forgets it if terminal). */
  committed(record: SagaInstanceRecord): void {
    this.sagas.delete(record.id);
    if (isTerminal(record.state.status)) return;
    if (this.sagas.size >= MAX_SAGAS) this.sagas.delete(this.sagas.keys().next().value!);
    this.sagas.set(record.id, storedForm(record));
  }

  /** Forgets a saga (its transaction found it different from what was remembered). */
  forget(id: string): void {
    this.sagas.delete(id);
  }

  /** The saga as this process last committed it, or undefined. Not to be changed: `apply` copies what it changes. */
  get(id: string): SagaInstanceRecord | undefined {
    return this.sagas.get(id);
  }

  /** True when `stored` (read in the transaction) is the saga `guess` stands for, field for field. */
  static same(stored: SagaInstanceRecord | undefined, guess: SagaInstanceRecord): boolean {
    return stored !== undefined && stored.version === guess.version && isDeepStrictEqual(stored, guess);
  }
}
