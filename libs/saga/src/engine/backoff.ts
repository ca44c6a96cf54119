import type { RetryPolicy } from '../definition/saga-definition';

/**
 * Delay before the attempt after `failedAttempt` (1-based): exponential, capped, with the policy's
 * fraction of it randomised downwards ("equal jitter" when jitter = 0.5), so retries of many sagas spread out.
 */
export function backoffDelay(policy: RetryPolicy, failedAttempt: number, random: () => number): number {
  const exponential = policy.initialDelayMs * Math.pow(policy.factor, Math.max(0, failedAttempt - 1));
  const capped = Math.min(policy.maxDelayMs, exponential);
  return Math.round(capped * (1 - policy.jitter * random()));
}
