import { SagaConcurrencyError } from '../errors/saga.errors';
import { isUniqueViolation } from '../persistence/typeorm/unique-violation';

const CONFLICT_RETRIES = 8;

/**
 * Runs `fn` (a whole transaction) again when another writer got there first: a saga's version changed under it
 * (another replica, a duplicate message) or a unique key was taken meanwhile (the same idempotency key). Other
 * errors are thrown at once.
 */
export async function withConflictRetries<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const retryable = error instanceof SagaConcurrencyError || isUniqueViolation(error);
      if (!retryable || attempt >= CONFLICT_RETRIES) throw error;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}
