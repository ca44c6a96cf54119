export { SagaOrchestration } from './saga-orchestration.decorator';
export { Step } from './step.decorator';
export { Compensation } from './compensation.decorator';
export { OnReply } from './on-reply.decorator';
export { SagaParticipant } from './saga-participant.decorator';
export { HandleCommand } from './handle-command.decorator';
export type {
  BusinessErrors,
  CompensationOptions,
  HandleCommandOptions,
  SagaOrchestrationOptions,
  StepOptions,
} from './options';
