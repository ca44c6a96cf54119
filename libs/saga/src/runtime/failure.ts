import type { ErrorClassifier } from '../definition/saga-definition';
import { StepFailure } from '../errors/saga.errors';
import type { FailureInfo } from '../transport/message';

/** Describes a thrown error (or a returned `StepFailure`) as stored and sent: business failures are not transient. */
export function describeFailure(error: unknown, isBusinessError: ErrorClassifier): FailureInfo {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const info: FailureInfo = { name, message, transient: !isBusinessError(error) };
  if (error instanceof StepFailure && error.details) info.details = error.details;
  return info;
}
