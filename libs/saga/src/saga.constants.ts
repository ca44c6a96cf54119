/** Metadata keys written by the decorators. */
export const SAGA_METADATA = 'nestjs-saga:saga';
export const SAGA_STEPS_METADATA = 'nestjs-saga:steps';
export const SAGA_COMPENSATIONS_METADATA = 'nestjs-saga:compensations';
export const SAGA_REPLY_HANDLERS_METADATA = 'nestjs-saga:reply-handlers';
export const PARTICIPANT_METADATA = 'nestjs-saga:participant';
export const COMMAND_HANDLERS_METADATA = 'nestjs-saga:command-handlers';

/** Injection tokens. */
export const SAGA_TRANSPORT = Symbol('SAGA_TRANSPORT');
export const SAGA_DATA_SOURCE = Symbol('SAGA_DATA_SOURCE');
export const SAGA_STORE = Symbol('SAGA_STORE');

/** The in-process transport's name, and the default service name of a monolith. */
export const DEFAULT_SERVICE_NAME = 'app';
