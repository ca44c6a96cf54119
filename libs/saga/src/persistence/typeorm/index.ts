import { CreateSagaTables1760000000000 } from './migrations/1760000000000-create-saga-tables';
import { DropStepLogSagaIdIndex1760000000100 } from './migrations/1760000000100-drop-step-log-saga-id-index';

export { SAGA_ENTITY_NAMES, sagaEntities, sagaEntitiesFor } from './saga.entities';
export type {
  SagaInboxEntity,
  SagaInstanceEntity,
  SagaOutboxEntity,
  SagaStepLogEntity,
} from './saga.entities';
export { CreateSagaTables1760000000000, DropStepLogSagaIdIndex1760000000100 };
export { SagaTransactions } from './transactions';
export { TypeOrmSagaStore, type TypeOrmSagaStoreOptions } from './typeorm-saga-store';
export { isUniqueViolation } from './unique-violation';

/** The library's migrations, in order: add them to the DataSource's `migrations`. */
export const sagaMigrations = [CreateSagaTables1760000000000, DropStepLogSagaIdIndex1760000000100];
