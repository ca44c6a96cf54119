import type { SagaStatus } from '../../engine/saga-state';
import type { FailureInfo, StepPhase } from '../../transport/message';
import type { SagaInstanceRecord } from '../saga-store';
import { bool, json, num, numOrNull, str, type Row } from './saga-sql';

/** The `saga_instance` columns an update writes (all but id, type, idempotency_key and created_at). */
export const INSTANCE_COLUMNS = [
  'definition_version',
  'status',
  'current_step',
  'step_index',
  'phase',
  'attempt',
  'awaiting',
  'in_doubt',
  'wake_at',
  'deadline_at',
  'due_at',
  'data',
  'last_error',
  'version',
  'updated_at',
] as const;

/**
 * Every `saga_instance` column, in the order the store inserts and selects them (named, not `*`: a prepared
 * statement's result columns must not change when a later migration adds a column).
 */
export const ALL_INSTANCE_COLUMNS = ['id', 'type', ...INSTANCE_COLUMNS, 'idempotency_key', 'created_at'].join(
  ', ',
);

/**
 * The JSON texts of records' `data` and `lastError`, made once per record: a transition's record is serialised when
 * it is written, and the coordinator's cache builds its stored form (`storedForm`) from the same texts after the
 * commit. A record is not changed once saved (the next transition copies it).
 */
const jsonTexts = new WeakMap<SagaInstanceRecord, { data: string; lastError: string | null }>();

function jsonOf(record: SagaInstanceRecord): { data: string; lastError: string | null } {
  let texts = jsonTexts.get(record);
  if (!texts) {
    const { lastError } = record.state;
    texts = { data: JSON.stringify(record.data), lastError: lastError ? JSON.stringify(lastError) : null };
    jsonTexts.set(record, texts);
  }
  return texts;
}

/** The values of `INSTANCE_COLUMNS`, in that order. */
export function instanceValues(record: SagaInstanceRecord): unknown[] {
  const { state } = record;
  const json = jsonOf(record);
  return [
    record.definitionVersion,
    state.status,
    record.currentStep,
    state.stepIndex,
    state.phase,
    state.attempt,
    state.awaiting,
    state.inDoubt,
    state.wakeAt,
    state.deadlineAt,
    record.dueAt,
    json.data,
    json.lastError,
    record.version,
    record.updatedAt,
  ];
}

/** `record` as reading its row back returns it: JSON columns round-tripped, absent values null, a fresh copy. */
export function storedForm(record: SagaInstanceRecord): SagaInstanceRecord {
  const row: Row = {
    id: record.id,
    type: record.type,
    idempotency_key: record.idempotencyKey,
    created_at: record.createdAt,
  };
  const values = instanceValues(record);
  INSTANCE_COLUMNS.forEach((column, i) => (row[column] = values[i]));
  return toInstance(row);
}

export function toInstance(row: Row): SagaInstanceRecord {
  return {
    id: str(row.id),
    type: str(row.type),
    definitionVersion: num(row.definition_version),
    state: {
      status: str(row.status) as SagaStatus,
      stepIndex: num(row.step_index),
      phase: str(row.phase) as StepPhase,
      attempt: num(row.attempt),
      awaiting: bool(row.awaiting),
      inDoubt: bool(row.in_doubt),
      wakeAt: numOrNull(row.wake_at),
      deadlineAt: numOrNull(row.deadline_at),
      lastError: json<FailureInfo>(row.last_error),
    },
    currentStep: str(row.current_step),
    dueAt: numOrNull(row.due_at),
    data: json<Record<string, unknown>>(row.data) ?? {},
    version: num(row.version),
    idempotencyKey:
      row.idempotency_key === null || row.idempotency_key === undefined ? null : str(row.idempotency_key),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}
