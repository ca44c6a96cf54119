import { randomUUID } from 'node:crypto';
import type { SagaState } from '../../libs/saga/src/engine/saga-state';
import type { SagaInstanceRecord } from '../../libs/saga/src/persistence/saga-store';

/** A saga instance record; `state` fields and record fields can be overridden. */
export function instance(
  state: Partial<SagaState> = {},
  record: Partial<Omit<SagaInstanceRecord, 'state'>> = {},
): SagaInstanceRecord {
  const now = 1_700_000_000_000;
  const full: SagaState = {
    status: 'RUNNING',
    stepIndex: 0,
    phase: 'invoke',
    attempt: 1,
    awaiting: true,
    inDoubt: false,
    wakeAt: null,
    deadlineAt: null,
    lastError: null,
    ...state,
  };
  // What the runtime computes with the engine's dueAt() for a saga before its pivot.
  const running = full.status === 'RUNNING' || full.status === 'COMPENSATING';
  const times = [full.wakeAt, full.deadlineAt].filter((t): t is number => t !== null);
  return {
    id: randomUUID(),
    type: 'place-order',
    definitionVersion: 1,
    state: full,
    currentStep: 'create',
    dueAt: running && times.length > 0 ? Math.min(...times) : null,
    data: { orderId: 'o-1', total: 12.5, lines: [{ sku: 'a', qty: 2 }] },
    version: 1,
    idempotencyKey: null,
    createdAt: now,
    updatedAt: now,
    ...record,
  };
}
