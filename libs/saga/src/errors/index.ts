export * from './saga.errors';
