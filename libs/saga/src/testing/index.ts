export {
  sagaDefinitionTest,
  SagaDefinitionTest,
  CommandExpectation,
  assertUniqueStepLog,
} from './saga-definition-test';
export type { SagaTestOptions, ActionRef } from './saga-definition-test';
