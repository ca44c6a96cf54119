import type { RetryPolicy } from '../definition/saga-definition';
import { backoffDelay } from './backoff';

const policy: RetryPolicy = { attempts: 10, initialDelayMs: 100, factor: 2, maxDelayMs: 1_000, jitter: 0.2 };
const noJitter = (): number => 0;
const fullJitter = (): number => 1;

describe('backoffDelay', () => {
  it('waits initialDelayMs after the first failed attempt', () => {
    expect(backoffDelay(policy, 1, noJitter)).toBe(100);
  });

  it('grows exponentially by factor', () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(policy, attempt, noJitter))).toEqual([
      100, 200, 400, 800,
    ]);
  });

  it('is capped at maxDelayMs', () => {
    expect([5, 6, 20].map((attempt) => backoffDelay(policy, attempt, noJitter))).toEqual([
      1_000, 1_000, 1_000,
    ]);
  });

  it('stays capped for very large attempt numbers (retries forever after the pivot)', () => {
    expect(backoffDelay({ ...policy, attempts: Infinity }, 100_000, noJitter)).toBe(1_000);
  });

  it('with random 0, the delay is the full exponential value', () => {
    expect(backoffDelay(policy, 3, noJitter)).toBe(400);
  });

  it('with random 1, the delay is reduced by the jitter fraction', () => {
    expect(backoffDelay(policy, 3, fullJitter)).toBe(320);
  });

  it('stays within [delay × (1 − jitter), delay] for any random value', () => {
    for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.999, 1]) {
      const delay = backoffDelay(policy, 2, () => r);
      expect(delay).toBeGreaterThanOrEqual(160);
      expect(delay).toBeLessThanOrEqual(200);
    }
  });

  it('applies the jitter to the capped delay', () => {
    expect(backoffDelay(policy, 10, fullJitter)).toBe(800);
  });

  it('with jitter 0, ignores random', () => {
    expect(backoffDelay({ ...policy, jitter: 0 }, 2, fullJitter)).toBe(200);
  });

  it('with jitter 1 and random 1, the delay can be zero (full jitter)', () => {
    expect(backoffDelay({ ...policy, jitter: 1 }, 2, fullJitter)).toBe(0);
  });

  it('with factor 1, every delay is initialDelayMs', () => {
    const constant = { ...policy, factor: 1 };
    expect([1, 2, 5, 50].map((attempt) => backoffDelay(constant, attempt, noJitter))).toEqual([
      100, 100, 100, 100,
    ]);
  });

  it('rounds to whole milliseconds', () => {
    expect(backoffDelay({ ...policy, initialDelayMs: 3 }, 1, () => 0.5)).toBe(3);
    expect(backoffDelay({ ...policy, initialDelayMs: 7 }, 1, () => 0.5)).toBe(6);
  });
});
