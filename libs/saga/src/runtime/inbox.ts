import type { EntityManager } from 'typeorm';
import type { SagaInstanceRecord, SagaStore } from '../persistence/saga-store';

/**
 * Records a batch's message ids in `consumer`'s inbox (inside the caller's transaction) and returns the items to
 * process: those never processed before, each id once. The inbox reports only ids recorded by earlier
 * transactions, so a message delivered twice within one batch (the relay publishes at least once) is dropped here.
 * With `sagaIdOf`, the batch's saga instances are read in the same round trip (on PostgreSQL) and returned too.
 */
export async function recordFresh<T>(
  store: SagaStore,
  manager: EntityManager,
  consumer: string,
  items: readonly T[],
  idOf: (item: T) => string,
  sagaIdOf?: (item: T) => string,
): Promise<{ fresh: T[]; instances: SagaInstanceRecord[] }> {
  const ids = items.map(idOf);
  const { duplicates, instances } = sagaIdOf
    ? await store.recordInboxAndFindInstances(manager, consumer, ids, items.map(sagaIdOf))
    : { duplicates: await store.recordInbox(manager, consumer, ids), instances: [] };
  const seen = new Set<string>();
  const fresh = items.filter((item) => {
    const id = idOf(item);
    if (duplicates.has(id) || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return { fresh, instances };
}
