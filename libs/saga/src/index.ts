export { SagaModule } from './saga.module';
export type { SagaModuleOptions } from './saga-module.options';
export type { SagaModuleExtras } from './saga-module.definition';
export { SagaOrchestration, Step, Compensation, OnReply, SagaParticipant, HandleCommand } from './decorators';
export type {
  BusinessErrors,
  CompensationOptions,
  HandleCommandOptions,
  SagaOrchestrationOptions,
  StepOptions,
} from './decorators';
export type { SagaContext, CommandContext } from './runtime/contexts';
export { SAGA_CONTEXT_TYPE } from './runtime/handler-enhancers';
export { SagaManager } from './runtime/saga-manager';
export { uuidv7 } from './runtime/ids';
export type { StartOptions } from './runtime/saga-manager';
export type { SagaView, SagaHistoryEntry } from './runtime/saga-view';
export type { SagaTransitionEvent } from './runtime/saga-waiters';
export type { SagaQuery } from './persistence/saga-store';
export { SAGA_STATUSES } from './engine/saga-state';
export type { SagaStatus, LogPhase, LogOutcome } from './engine/saga-state';
export type { RetryPolicy } from './definition/saga-definition';
export {
  DEFAULT_STEP_RETRY,
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_AFTER_PIVOT_RETRY,
} from './definition/defaults';
export { sagaEntities, sagaEntitiesFor, sagaMigrations } from './persistence/typeorm';
export { InProcessTransport } from './transport/in-process/in-process.transport';
export type {
  SagaTransport,
  OutgoingMessage,
  IncomingMessage,
  Disposition,
  BatchHandler,
  ConsumerSpec,
} from './transport/transport';
export type { SagaMessage, FailureInfo } from './transport/message';
export * from './errors';
