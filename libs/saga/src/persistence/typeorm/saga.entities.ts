import { EntitySchema, type ValueTransformer } from 'typeorm';

/**
 * The saga tables as TypeORM entities, for the application's DataSource (`entities: [...mine, ...sagaEntities]`).
 * The store writes them with its own SQL; the entities give TypeORM the schema (for `synchronize`, migration
 * generation and schema qualification) and let operators query them with repositories.
 * Column names, types and index names match `sagaMigrations` exactly (`CreateSagaTables1760000000000`, then
 * `DropStepLogSagaIdIndex1760000000100`).
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

/** How the saga columns are declared on one family of drivers; the entities and the migration agree on it. */
export interface SagaColumnTypes {
  /** Auto-increment ids: SQLite allows AUTOINCREMENT only on an `integer` (64-bit there). */
  id: 'bigint' | 'integer';
  /** JSON and message bodies: MySQL's `text` holds 64 KB only, its `longtext` 4 GB. */
  text: 'text' | 'longtext';
  /**
   * Of every string column, on MySQL/MariaDB: `utf8mb4_bin`, for any Unicode and exact comparison of keys
   * (idempotency keys, message ids), as on PostgreSQL and SQLite — MySQL's default collations ignore case.
   */
  collation?: 'utf8mb4_bin';
}

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

/** The MySQL family of drivers. */
export const MYSQL_TYPES: readonly string[] = ['mysql', 'mariadb', 'aurora-mysql'];

const DEFAULT_COLUMNS: SagaColumnTypes = { id: 'bigint', text: 'text' };
const SQLITE_COLUMNS: SagaColumnTypes = { id: 'integer', text: 'text' };
const MYSQL_COLUMNS: SagaColumnTypes = { id: 'bigint', text: 'longtext', collation: 'utf8mb4_bin' };

/** The column types of the saga tables on this driver (`DataSourceOptions['type']`). */
export function sagaColumnTypes(type: string): SagaColumnTypes {
  if (SQLITE_TYPES.includes(type)) return SQLITE_COLUMNS;
  return MYSQL_TYPES.includes(type) ? MYSQL_COLUMNS : DEFAULT_COLUMNS;
}

function buildSagaEntities(types: SagaColumnTypes) {
  const autoIncrementId = (table: string) =>
    ({
      type: types.id,
      primary: true,
      primaryKeyConstraintName: `PK_${table}`,
      generated: 'increment',
      transformer: bigintIdTransformer,
    }) as const;
  const { collation } = types;
  const varchar = (length: number) => ({ type: 'varchar', length, collation }) as const;
  const text = { type: types.text, collation } as const;

  const instance = new EntitySchema<SagaInstanceEntity>({
    name: SAGA_ENTITY_NAMES.instance,
    tableName: SAGA_TABLES.instance,
    columns: {
      id: { ...varchar(36), primary: true, primaryKeyConstraintName: 'PK_saga_instance' },
      type: varchar(200),
      definitionVersion: { name: 'definition_version', type: 'int' },
      status: varchar(32),
      currentStep: { name: 'current_step', ...varchar(200) },
      stepIndex: { name: 'step_index', type: 'int' },
      phase: varchar(16),
      attempt: { type: 'int' },
      awaiting: { type: 'boolean' },
      inDoubt: { name: 'in_doubt', type: 'boolean' },
      wakeAt: { name: 'wake_at', ...nullableEpochMs },
      deadlineAt: { name: 'deadline_at', ...nullableEpochMs },
      dueAt: { name: 'due_at', ...nullableEpochMs },
      data: text,
      lastError: { name: 'last_error', ...text, nullable: true },
      version: { type: 'int' },
      idempotencyKey: { name: 'idempotency_key', ...varchar(200), nullable: true },
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
      sagaId: { name: 'saga_id', ...varchar(36) },
      step: varchar(200),
      phase: varchar(32),
      attempt: { type: 'int' },
      outcome: varchar(32),
      detail: { ...text, nullable: true },
      at: epochMs,
    },
    // Also the index of a saga's history (it starts with saga_id): a second one on saga_id alone was dropped.
    uniques: [{ name: 'UQ_saga_step_log_entry', columns: ['sagaId', 'step', 'phase', 'attempt'] }],
  });

  const outbox = new EntitySchema<SagaOutboxEntity>({
    name: SAGA_ENTITY_NAMES.outbox,
    tableName: SAGA_TABLES.outbox,
    columns: {
      id: autoIncrementId(SAGA_TABLES.outbox),
      messageId: { name: 'message_id', ...varchar(64) },
      body: text,
      createdAt: { name: 'created_at', ...epochMs },
      sentAt: { name: 'sent_at', ...nullableEpochMs },
      claimedUntil: { name: 'claimed_until', ...nullableEpochMs },
      attempts: { type: 'int', default: 0 },
      lastError: { name: 'last_error', ...text, nullable: true },
    },
    uniques: [{ name: 'UQ_saga_outbox_message_id', columns: ['messageId'] }],
    // "Unsent, oldest first" (sent_at IS NULL ORDER BY id) and purging sent rows (sent_at < ?).
    indices: [{ name: 'IDX_saga_outbox_sent_at_id', columns: ['sentAt', 'id'] }],
  });

  const inbox = new EntitySchema<SagaInboxEntity>({
    name: SAGA_ENTITY_NAMES.inbox,
    tableName: SAGA_TABLES.inbox,
    columns: {
      consumer: { ...varchar(200), primary: true, primaryKeyConstraintName: 'PK_saga_inbox' },
      messageId: {
        name: 'message_id',
        ...varchar(64),
        primary: true,
        primaryKeyConstraintName: 'PK_saga_inbox',
      },
      processedAt: { name: 'processed_at', ...epochMs },
    },
  });

  return [instance, stepLog, outbox, inbox] as const;
}

/**
 * The saga entities declared for PostgreSQL. They also serve, at run time, MySQL/MariaDB and SQLite when the tables
 * come from `sagaMigrations`; for schema tools there (`synchronize`, migration generation) use `sagaEntitiesFor`.
 */
export const sagaEntities = buildSagaEntities(DEFAULT_COLUMNS);
const sqliteSagaEntities = buildSagaEntities(SQLITE_COLUMNS);
const mysqlSagaEntities = buildSagaEntities(MYSQL_COLUMNS);

/** The saga entities declared right for this driver (`DataSourceOptions['type']`), `synchronize` included. */
export function sagaEntitiesFor(type: string): readonly EntitySchema[] {
  const types = sagaColumnTypes(type);
  if (types === SQLITE_COLUMNS) return sqliteSagaEntities;
  return types === MYSQL_COLUMNS ? mysqlSagaEntities : sagaEntities;
}
