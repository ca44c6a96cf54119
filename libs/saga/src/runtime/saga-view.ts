import type { LogOutcome, LogPhase, SagaStatus } from '../engine/saga-state';
import type { FailureInfo } from '../transport/message';
import type { SagaInstanceRecord, StepLogRecord } from '../persistence/saga-store';

/** One row of a saga's history, as the API returns it. */
export interface SagaHistoryEntry {
  step: string;
  /** `invoke`/`reply` for a step's action, `compensate`/`compensate-reply` for its compensation, and more. */
  phase: LogPhase;
  attempt: number;
  outcome: LogOutcome;
  detail: Record<string, unknown> | null;
  /** ISO timestamp. */
  at: string;
}

/** A saga instance as the API returns it (`find`, `waitFor`, operator actions). */
export interface SagaView<TData extends object = Record<string, unknown>> {
  id: string;
  type: string;
  status: SagaStatus;
  /** The step being run or compensated (the last one, once finished). */
  currentStep: string;
  data: TData;
  /** The failure that made the saga compensate, or the last compensation failure. */
  lastError: FailureInfo | null;
  /** ISO timestamp of the next retry or reply deadline, when one is pending. */
  wakeAt: string | null;
  idempotencyKey: string | null;
  createdAt: string;
  updatedAt: string;
  /** Every transition, in order. Empty in listings. */
  history: SagaHistoryEntry[];
}

export function toView<TData extends object>(
  record: SagaInstanceRecord,
  history: StepLogRecord[],
): SagaView<TData> {
  return {
    id: record.id,
    type: record.type,
    status: record.state.status,
    currentStep: record.currentStep,
    data: record.data as TData,
    lastError: record.state.lastError,
    wakeAt: record.state.wakeAt === null ? null : new Date(record.state.wakeAt).toISOString(),
    idempotencyKey: record.idempotencyKey,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    history: history.map((h) => ({
      step: h.step,
      phase: h.phase,
      attempt: h.attempt,
      outcome: h.outcome,
      detail: h.detail ?? null,
      at: new Date(h.at).toISOString(),
    })),
  };
}
