import { baselineVariant } from './baseline/variant';
import type { VariantSpec } from './lib/runner';
import { monolithPostgresVariant, monolithSqliteVariant, sagaVariant } from './saga/variant';

export interface VariantOptions {
  /** Finished sagas preloaded into every service's tables for `saga-growth`. */
  growthSagas: number;
}

/**
 * Every variant `run.ts` knows, by name, in the order it runs them by default (the growth run right after the saga
 * run it is compared with, so that both see the machine in the same state).
 */
export const VARIANTS: Record<string, (options: VariantOptions) => VariantSpec> = {
  baseline: baselineVariant,
  saga: () => sagaVariant(),
  'saga-growth': (o) => sagaVariant({ name: 'saga-growth', preloadSagas: o.growthSagas }),
  'saga-lean': () => sagaVariant({ name: 'saga-lean', lean: true }),
  'monolith-sqlite': monolithSqliteVariant,
  'monolith-pg': monolithPostgresVariant,
};
