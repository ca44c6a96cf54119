import { baselineVariant } from './baseline/variant';
import type { VariantSpec } from './lib/runner';

/**
 * Every variant `run.ts` knows, by name. Add the library's distributed saga here (e.g. `saga: sagaVariant`):
 * its services must speak the protocol of `lib/control.ts` (see bench/README.md).
 */
export const VARIANTS: Record<string, () => VariantSpec> = {
  baseline: baselineVariant,
};
