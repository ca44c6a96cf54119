import type { EntityManager } from 'typeorm';
import type { SagaStore } from '../persistence/saga-store';

/**
 * Records a batch's message ids in `consumer`'s inbox (inside the caller's transaction) and returns the items to
 * process: those never processed before, each id once. The inbox reports only ids recorded by earlier
 * transactions, so a message delivered twice within one batch (the relay publishes at least once) is dropped here.
 */
export async function recordFresh<T>(
  store: SagaStore,
  manager: EntityManager,
  consumer: string,
  items: readonly T[],
  idOf: (item: T) => string,
): Promise<T[]> {
  const duplicates = await store.recordInbox(manager, consumer, items.map(idOf));
  const seen = new Set<string>();
  return items.filter((item) => {
    const id = idOf(item);
    if (duplicates.has(id) || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
