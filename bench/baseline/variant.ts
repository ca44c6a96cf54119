import { join } from 'node:path';
import type { VariantSpec } from '../lib/runner';
import { DATABASES, QUEUES } from './common';

/** The hand-written baseline: three processes, participants first so the coordinator finds them consuming. */
export function baselineVariant(): VariantSpec {
  return {
    name: 'baseline',
    databases: Object.values(DATABASES),
    queues: Object.values(QUEUES),
    services: [
      { name: 'payment', entryJs: join(__dirname, 'payment.js') },
      { name: 'shipping', entryJs: join(__dirname, 'shipping.js') },
      { name: 'order', entryJs: join(__dirname, 'order.js') },
    ],
    driver: 'order',
  };
}
