/** Base class of every error this library throws. */
export class SagaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A saga or participant declaration is invalid. Thrown at boot; the message names the class, method and fix. */
export class SagaDefinitionError extends SagaError {}

/** `start()` was given data that fails the saga's data class validation. Nothing was persisted. */
export class SagaValidationError extends SagaError {
  constructor(
    readonly sagaType: string,
    /** One entry per invalid field: the property path and what is wrong with it. */
    readonly fields: { property: string; constraints: string[] }[],
  ) {
    super(
      `Invalid data for saga '${sagaType}': ` +
        fields.map((f) => `${f.property} (${f.constraints.join('; ')})`).join(', '),
    );
  }
}

/** No saga with this id exists. */
export class SagaNotFoundError extends SagaError {
  constructor(readonly sagaId: string) {
    super(`Saga '${sagaId}' does not exist.`);
  }
}

/** No registered saga has this name or class. */
export class UnknownSagaTypeError extends SagaError {
  constructor(readonly sagaType: string) {
    super(
      `No saga named '${sagaType}' is registered. Decorate the class with @SagaOrchestration() and list it in a module's providers.`,
    );
  }
}

/** `waitFor()` gave up before the saga became terminal. */
export class SagaTimeoutError extends SagaError {
  constructor(
    readonly sagaId: string,
    readonly timeoutMs: number,
    readonly status: string,
  ) {
    super(`Saga '${sagaId}' is still ${status} after ${timeoutMs} ms.`);
  }
}

/** Another replica (or a duplicate message) advanced the saga first; the runtime reloads and retries. */
export class SagaConcurrencyError extends SagaError {
  constructor(
    readonly sagaId: string,
    readonly expectedVersion: number,
  ) {
    super(`Saga '${sagaId}' changed concurrently (expected version ${expectedVersion}).`);
  }
}

/** `start()` was given an idempotency key that already belongs to a saga of another type. */
export class IdempotencyKeyConflictError extends SagaError {
  constructor(
    readonly idempotencyKey: string,
    readonly sagaId: string,
    readonly existingType: string,
    readonly requestedType: string,
  ) {
    super(
      `Idempotency key '${idempotencyKey}' already started saga ${sagaId} of type '${existingType}', ` +
        `not '${requestedType}': use a key per saga type (e.g. prefix it with the type).`,
    );
  }
}

/** An operator action is not possible in the saga's current state. */
export class SagaOperationError extends SagaError {
  constructor(
    readonly sagaId: string,
    message: string,
  ) {
    super(`Saga '${sagaId}': ${message}`);
  }
}

/** A message is larger than the transport's configured limit; it is refused at publish time. */
export class MessageTooLargeError extends SagaError {
  constructor(
    readonly messageId: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `Message ${messageId} is ${bytes} bytes, over the ${limit}-byte limit. ` +
        `Send less data in the command (store it and pass an id), or raise 'maxMessageBytes' in the transport options.`,
    );
  }
}

/** The transport cannot reach the broker or lost it. */
export class TransportError extends SagaError {}

/**
 * Thrown (or returned) by a step or a command handler to signal a business failure:
 * the saga compensates at once, with no retry. Any other error counts as transient and is retried.
 */
export class StepFailure extends SagaError {
  constructor(
    reason: string,
    /** Optional data returned to the coordinator with the failure. */
    readonly details?: Record<string, unknown>,
  ) {
    super(reason);
  }
}
