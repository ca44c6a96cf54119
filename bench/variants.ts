import { baselineVariant } from './baseline/variant';
import type { VariantSpec } from './lib/runner';
import { monolithPostgresVariant, monolithSqliteVariant, sagaVariant } from './saga/variant';

export interface VariantOptions {
  /** Finished sagas preloaded into every service's tables for `saga-growth`. */
  growthSagas: number;
}

/**
 * Every variant `run.ts` knows, by name, in the order it runs them by default: the growth run between two runs of the
 * same saga with empty tables, `saga` and `saga-again`, and compared with their mean — the host's speed drifts by
 * ±12 % from one window to the next here, and a drift that is steady over the three runs cancels out.
 */
export const VARIANTS: Record<string, (options: VariantOptions) => VariantSpec> = {
  baseline: baselineVariant,
  saga: () => sagaVariant(),
  'saga-growth': (o) => sagaVariant({ name: 'saga-growth', preloadSagas: o.growthSagas }),
  'saga-again': () => sagaVariant({ name: 'saga-again' }),
  'saga-lean': () => sagaVariant({ name: 'saga-lean', lean: true }),
  'monolith-sqlite': monolithSqliteVariant,
  'monolith-pg': monolithPostgresVariant,
  // Only when asked for (`--variants …,saga-explicit`): `saga` with `database.implicitJoin: false`.
  'saga-explicit': () => sagaVariant({ name: 'saga-explicit', explicitJoin: true }),
};

/** Variants run only when named in `--variants`. */
export const ON_REQUEST = ['saga-explicit'];
