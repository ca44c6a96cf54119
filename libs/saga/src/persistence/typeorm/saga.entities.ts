import { EntitySchema, type ValueTransformer } from 'typeorm';

/**
 * The saga tables as TypeORM entities, for the application's DataSource (`entities: [...mine, ...sagaEntities]`).
 * The store writes them with its own SQL; the entities give TypeORM the schema (for `synchronize`, migration
 * generation and schema qualification) and let operators query them with repositories.
 * Column names, types and index names match `CreateSagaTables1760000000000` exactly.
 */

/** Epoch-ms columns are `bigint`: PostgreSQL and MySQL return them as strings. */
export const epochMsTransformer: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

/** Auto-increment `bigint` ids are kept as strings (they may pass 2^53 in theory, and pg returns strings). */
export const bigintIdTransformer: ValueTransformer = {
  to: (value: string | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : String(value)),
};

export const SAGA_TABLES = {
  instance: 'saga_instance',
  stepLog: 'saga_step_log',
  outbox: 'saga_outbox',
  inbox: 'saga_inbox',
} as const;

/** Entity names, to look the saga tables up in whichever set the DataSource registered. */
export const SAGA_ENTITY_NAMES = {
  instance: 'SagaInstance',
  stepLog: 'SagaStepLog',
  outbox: 'SagaOutbox',
  inbox: 'SagaInbox',
} as const;

export interface SagaInstanceEntity {
  id: string;
  type: string;
  definitionVersion: number;
  status: string;
  currentStep: string;
  stepIndex: number;
  phase: string;
  attempt: number;
  awaiting: boolean;
  inDoubt: boolean;
  wakeAt: number | null;
  deadlineAt: number | null;
  /** min(wakeAt, deadlineAt) while RUNNING or COMPENSATING, null otherwise: what the timer sweep queries. */
  dueAt: number | null;
  /** JSON. */
  data: string;
  /** JSON `FailureInfo`, or null. */
  lastError: string | null;
  version: number;
  idempotencyKey: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface SagaStepLogEntity {
  id: string;
  sagaId: string;
  step: string;
  phase: string;
  attempt: number;
  outcome: string;
  /** JSON, or null. */
  detail: string | null;
  at: number;
}

export interface SagaOutboxEntity {
  id: string;
  messageId: string;
  /** The serialised message, published as is. */
  body: string;
  createdAt: number;
  sentAt: number | null;
  claimedUntil: number | null;
  attempts: number;
  lastError: string | null;
}

export interface SagaInboxEntity {
  consumer: string;
  messageId: string;
  processedAt: number;
}

const epochMs = { type: 'bigint', transformer: epochMsTransformer } as const;
const nullableEpochMs = { ...epochMs, nullable: true } as const;

/** The database type of the auto-increment ids: SQLite allows AUTOINCREMENT only on an `integer` (64-bit there). */
export type SagaIdColumnType = 'bigint' | 'integer';

/** The drivers whose auto-increment ids must be declared `integer`. */
const SQLITE_TYPES: readonly string[] = [
  'better-sqlite3',
  'sqljs',
  'capacitor',
  'cordova',
  'expo',
  'nativescript',
  'react-native',
];

function buildSagaEntities(idType: SagaIdColumnType) {
  const autoIncrementId = (table: string) =>
    ({
      type: idType,
      primary: true,
      primaryKeyConstraintName: `PK_${table}`,
      generated: 'increment',
      transformer: bigintIdTransformer,
    }) as const;

  const instance = new EntitySchema<SagaInstanceEntity>({
    name: SAGA_ENTITY_NAMES.instance,
    tableName: SAGA_TABLES.instance,
    columns: {
      id: { type: 'varchar', length: 36, primary: true, primaryKeyConstraintName: 'PK_saga_instance' },
      type: { type: 'varchar', length: 200 },
      definitionVersion: { name: 'definition_version', type: 'int' },
      status: { type: 'varchar', length: 32 },
      currentStep: { name: 'current_step', type: 'varchar', length: 200 },
      stepIndex: { name: 'step_index', type: 'int' },
      phase: { type: 'varchar', length: 16 },
      attempt: { type: 'int' },
      awaiting: { type: 'boolean' },
      inDoubt: { name: 'in_doubt', type: 'boolean' },
      wakeAt: { name: 'wake_at', ...nullableEpochMs },
      deadlineAt: { name: 'deadline_at', ...nullableEpochMs },
      dueAt: { name: 'due_at', ...nullableEpochMs },
      data: { type: 'text' },
      lastError: { name: 'last_error', type: 'text', nullable: true },
      version: { type: 'int' },
      idempotencyKey: { name: 'idempotency_key', type: 'varchar', length: 200, nullable: true },
      createdAt: { name: 'created_at', ...epochMs },
      updatedAt: { name: 'updated_at', ...epochMs },
    },
    uniques: [{ name: 'UQ_saga_instance_idempotency_key', columns: ['idempotencyKey'] }],
    indices: [
      { name: 'IDX_saga_instance_due_at', columns: ['dueAt'] },
      { name: 'IDX_saga_instance_status_updated_at', columns: ['status', 'updatedAt'] },
    ],
  });

  const stepLog = new EntitySchema<SagaStepLogEntity>({
    name: SAGA_ENTITY_NAMES.stepLog,
    tableName: SAGA_TABLES.stepLog,
    columns: {
      id: autoIncrementId(SAGA_TABLES.stepLog),
      sagaId: { name: 'saga_id', type: 'varchar', length: 36 },
      step: { type: 'varchar', length: 200 },
      phase: { type: 'varchar', length: 32 },
      attempt: { type: 'int' },
      outcome: { type: 'varchar', length: 32 },
      detail: { type: 'text', nullable: true },
      at: epochMs,
    },
    uniques: [{ name: 'UQ_saga_step_log_entry', columns: ['sagaId', 'step', 'phase', 'attempt'] }],
    indices: [{ name: 'IDX_saga_step_log_saga_id', columns: ['sagaId'] }],
  });

  const outbox = new EntitySchema<SagaOutboxEntity>({
    name: SAGA_ENTITY_NAMES.outbox,
    tableName: SAGA_TABLES.outbox,
    columns: {
      id: autoIncrementId(SAGA_TABLES.outbox),
      messageId: { name: 'message_id', type: 'varchar', length: 64 },
      body: { type: 'text' },
      createdAt: { name: 'created_at', ...epochMs },
      sentAt: { name: 'sent_at', ...nullableEpochMs },
      claimedUntil: { name: 'claimed_until', ...nullableEpochMs },
      attempts: { type: 'int', default: 0 },
      lastError: { name: 'last_error', type: 'text', nullable: true },
    },
    uniques: [{ name: 'UQ_saga_outbox_message_id', columns: ['messageId'] }],
    // "Unsent, oldest first" (sent_at IS NULL ORDER BY id) and purging sent rows (sent_at < ?).
    indices: [{ name: 'IDX_saga_outbox_sent_at_id', columns: ['sentAt', 'id'] }],
  });

  const inbox = new EntitySchema<SagaInboxEntity>({
    name: SAGA_ENTITY_NAMES.inbox,
    tableName: SAGA_TABLES.inbox,
    columns: {
      consumer: { type: 'varchar', length: 200, primary: true, primaryKeyConstraintName: 'PK_saga_inbox' },
      messageId: {
        name: 'message_id',
        type: 'varchar',
        length: 64,
        primary: true,
        primaryKeyConstraintName: 'PK_saga_inbox',
      },
      processedAt: { name: 'processed_at', ...epochMs },
    },
  });

  return [instance, stepLog, outbox, inbox] as const;
}

/**
 * The saga entities with `bigint` auto-increment ids: right for PostgreSQL and MySQL/MariaDB, and for SQLite
 * when its tables come from `sagaMigrations`. For `synchronize: true` on SQLite use `sagaEntitiesFor(type)`.
 */
export const sagaEntities = buildSagaEntities('bigint');
const sqliteSagaEntities = buildSagaEntities('integer');

/** The saga entities declared right for this driver (`DataSourceOptions['type']`), `synchronize` included. */
export function sagaEntitiesFor(type: string): readonly EntitySchema[] {
  return SQLITE_TYPES.includes(type) ? sqliteSagaEntities : sagaEntities;
}

/** The id column type the migration uses on this driver. */
export function sagaIdColumnType(type: string): SagaIdColumnType {
  return SQLITE_TYPES.includes(type) ? 'integer' : 'bigint';
}
