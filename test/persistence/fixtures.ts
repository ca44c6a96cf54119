import { randomUUID } from 'node:crypto';
import type { SagaState } from '../../libs/saga/src/engine/saga-state';
import type { SagaInstanceRecord } from '../../libs/saga/src/persistence/saga-store';

/** A saga instance record; `state` fields and record fields can be overridden. */
export function instance(
  state: Partial<SagaState> = {},
  record: Partial<Omit<SagaInstanceRecord, 'state'>> = {},
): SagaInstanceRecord {
  const now = 1_700_000_000_000;
  return {
    id: randomUUID(),
    type: 'place-order',
    definitionVersion: 1,
    state: {
      status: 'RUNNING',
      stepIndex: 0,
      phase: 'invoke',
      attempt: 1,
      awaiting: true,
      wakeAt: null,
      deadlineAt: null,
      lastError: null,
      ...state,
    },
    currentStep: 'create',
    data: { orderId: 'o-1', total: 12.5, lines: [{ sku: 'a', qty: 2 }] },
    version: 1,
    idempotencyKey: null,
    createdAt: now,
    updatedAt: now,
    ...record,
  };
}
