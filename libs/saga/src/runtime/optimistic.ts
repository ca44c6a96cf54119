import { TypeORMError } from 'typeorm';
import type { EntityManager } from 'typeorm';
import type { RunOptions, SagaTransactions } from '../persistence/typeorm/transactions';

/** Aborts an optimistic transaction: user code failed, so the transaction is run again with savepoints. */
class SavepointsNeeded extends Error {
  constructor(
    readonly key: string,
    readonly original: unknown,
  ) {
    super(`user code ${key} failed inside an optimistic transaction`);
  }
}

/** Aborts a transaction that ran ahead on a guess which proved wrong: it is run again without guessing. */
class GuessedWrong extends Error {}

/** True for the signals that abort an optimistic transaction: catch blocks around user code must rethrow them. */
export function abortsOptimisticRun(error: unknown): boolean {
  return error instanceof SavepointsNeeded || error instanceof GuessedWrong;
}

/**
 * The error to throw from a run that guessed (`isolation.mayGuess`) and proved wrong — a message it took for new was
 * a duplicate, a saga it took from memory had changed: its transaction rolls back and runs again, still optimistic
 * (no savepoints: nothing failed), but reading first.
 */
export function guessedWrong(reason: string): Error {
  return new GuessedWrong(reason);
}

/**
 * Runs `work` while `reading` (a statement of the same transaction, already sent) is on its way, then hands its
 * answer to `check`, which throws `guessedWrong` when the answer shows that `work` ran on a wrong guess. When `work`
 * fails, `check` still sees the answer first — a failure on a wrong guess says nothing and must not be replayed —
 * and `reading` is always settled before this returns or throws: its transaction must not end (its ROLLBACK be
 * sent, its connection released) before that statement was sent.
 */
export async function aheadOf<R, T>(
  reading: Promise<R>,
  work: () => Promise<T>,
  check: (answer: R) => void,
): Promise<T> {
  reading.catch(() => undefined); // handled below; it must not count as unhandled while `work` runs
  let result: T;
  try {
    result = await work();
  } catch (error) {
    const answer = await reading.then(
      (value) => ({ value }),
      () => undefined, // a failed statement fails the transaction in any case
    );
    if (answer) check(answer.value);
    throw error;
  }
  check(await reading);
  return result;
}

/**
 * How user code (a local step, a command handler, a reply handler) runs inside a transaction, so that its writes
 * are undone if it fails while the transaction goes on. Optimistic (`safe = false`): directly, and a failure aborts
 * the whole transaction. Safe: in a SAVEPOINT (two more round trips) — except the code whose failure aborted the
 * optimistic run, which is not run again when it failed by its own logic: its recorded error is thrown at once.
 */
export class Isolation {
  /** @param transactions when given, savepoints go through it (so that what they register after commit is undone with them). */
  constructor(
    readonly safe: boolean,
    private readonly failed = new Map<string, unknown>(),
    private readonly transactions?: SagaTransactions,
    /** The first run only: the caller may act on a guess before reading, and check it (see `guessedWrong`). */
    readonly mayGuess = false,
  ) {}

  /** Runs `work`; `key` names it the same way in both runs (e.g. the message id). */
  async run<T>(
    manager: EntityManager,
    key: string,
    work: (manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    if (!this.safe) {
      try {
        return await work(manager);
      } catch (error) {
        throw new SavepointsNeeded(key, error);
      }
    }
    // Replay a failure of the code's own logic without running it again; a database error (a dropped connection,
    // a deadlock) says nothing about the code: run it again, in a savepoint, against the new transaction.
    if (this.failed.has(key) && !isDatabaseError(this.failed.get(key))) throw this.failed.get(key);
    return this.transactions ? this.transactions.savepoint(manager, work) : manager.transaction(work);
  }
}

/** An error raised by TypeORM or a database driver (they carry a `code`, e.g. `57P01` or `ECONNRESET`). */
function isDatabaseError(error: unknown): boolean {
  if (error instanceof TypeORMError) return true;
  return (
    typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
  );
}

/**
 * Runs a transaction first without savepoints around user code (the common case: everything succeeds, and the
 * savepoints' round trips are saved), and, if some user code failed, once more with savepoints. The code that
 * failed is not run again; other user code of the same transaction (a batch) may run twice, but only one run
 * commits — as with any transaction retry. The first run may guess (`isolation.mayGuess`); if the guess proves
 * wrong, it is run again, optimistically, without guessing.
 */
export async function runOptimistically<T>(
  transactions: SagaTransactions,
  fn: (manager: EntityManager, isolation: Isolation) => Promise<T>,
  options: RunOptions = {},
): Promise<T> {
  const optimistic = (mayGuess: boolean) =>
    transactions.run(
      (manager) => fn(manager, new Isolation(false, undefined, transactions, mayGuess)),
      options,
    );
  let error: unknown;
  try {
    return await optimistic(true);
  } catch (first) {
    error = first;
  }
  if (error instanceof GuessedWrong) {
    try {
      return await optimistic(false);
    } catch (second) {
      error = second;
    }
  }
  if (!(error instanceof SavepointsNeeded)) throw error;
  const failed = new Map([[error.key, error.original]]);
  return transactions.run((manager) => fn(manager, new Isolation(true, failed, transactions)), options);
}
