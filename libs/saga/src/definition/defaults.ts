import type { RetryPolicy } from './saga-definition';

/** A step's action: 3 attempts, 100 ms then 200 ms apart (each up to 20 % shorter, at random). */
export const DEFAULT_STEP_RETRY: RetryPolicy = {
  attempts: 3,
  initialDelayMs: 100,
  factor: 2,
  maxDelayMs: 5_000,
  jitter: 0.2,
};

/** A compensation: 10 attempts, from 200 ms apart up to 30 s (about 1.5 minutes in all), then COMPENSATION_FAILED. */
export const DEFAULT_COMPENSATION_RETRY: RetryPolicy = {
  attempts: 10,
  initialDelayMs: 200,
  factor: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
};

/** A step after the pivot: retried until it succeeds, at most 30 s apart. */
export const DEFAULT_AFTER_PIVOT_RETRY: RetryPolicy = {
  attempts: Infinity,
  initialDelayMs: 200,
  factor: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
};
