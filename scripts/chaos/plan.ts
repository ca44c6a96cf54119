/** A seeded pseudo-random generator (mulberry32): the same seed gives the same orders and fault schedule. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/**
 * The classes of orders and how each must end:
 * - `complete`: alice or bob, a country we ship to → COMPLETED, order APPROVED, one CHARGED payment, one shipment;
 * - `declined`: carol (credit 10) orders more than 10 → payment declined, COMPENSATED, REJECTED, no payment row;
 * - `refused`: alice or bob ship to AQ or KP → charged, refused by shipping, refunded: COMPENSATED, REJECTED,
 *   one REFUNDED payment, no shipment.
 */
export type OrderClass = 'complete' | 'declined' | 'refused';

export const EXPECTED_STATUS: Record<OrderClass, 'COMPLETED' | 'COMPENSATED'> = {
  complete: 'COMPLETED',
  declined: 'COMPENSATED',
  refused: 'COMPENSATED',
};

/** The payment service's seeded customers (apps/payment/src/customer-seeder.ts), credit in cents. */
export const CUSTOMER_CREDIT_CENTS: Readonly<Record<string, number>> = {
  alice: 100_000,
  bob: 100_000,
  carol: 1_000,
};

export interface OrderRequestBody {
  customerId: string;
  amount: number;
  country: string;
  address: string;
}

export interface PlannedOrder {
  index: number;
  /** The `Idempotency-Key` header: unique per order and run. */
  key: string;
  cls: OrderClass;
  body: OrderRequestBody;
  amountCents: number;
}

const SHIPPABLE = ['FR', 'DE', 'US', 'JP', 'BR', 'IT', 'ES', 'CA'];
const BLOCKED = ['AQ', 'KP'];
/** The mix of outcomes: 70 % complete, 15 % declined, 15 % refused. */
const MIX: ReadonlyArray<[OrderClass, number]> = [
  ['complete', 0.7],
  ['declined', 0.15],
  ['refused', 0.15],
];

/**
 * The orders of a run, in the order they are placed. Amounts stay small enough that alice and bob can never run
 * out of credit, even if every one of their orders were charged at once: a `complete` or `refused` order must not
 * be declined, whatever the interleaving.
 */
export function planOrders(count: number, random: Random, runId: string): PlannedOrder[] {
  const classes: OrderClass[] = [];
  for (const [cls, share] of MIX) {
    const n = cls === 'complete' ? 0 : Math.round(count * share);
    for (let i = 0; i < n; i++) classes.push(cls);
  }
  while (classes.length < count) classes.push('complete');
  classes.length = count;
  random.shuffle(classes);

  const charged = classes.filter((c) => c !== 'declined').length;
  const perCustomer = Math.ceil(charged / 2);
  const maxCents = Math.min(2_000, Math.floor(CUSTOMER_CREDIT_CENTS.alice / Math.max(1, perCustomer)));
  if (maxCents < 1) throw new Error(`too many orders (${count}) for the demo customers' credit`);

  let chargedSeen = 0;
  return classes.map((cls, index) => {
    let customerId: string;
    let amountCents: number;
    let country: string;
    if (cls === 'declined') {
      customerId = 'carol';
      amountCents = random.int(CUSTOMER_CREDIT_CENTS.carol + 1, 50_000);
      country = random.pick(SHIPPABLE);
    } else {
      customerId = chargedSeen++ % 2 === 0 ? 'alice' : 'bob';
      amountCents = random.int(1, maxCents);
      country = random.pick(cls === 'refused' ? BLOCKED : SHIPPABLE);
    }
    return {
      index,
      key: `${runId}-${index}`,
      cls,
      amountCents,
      body: { customerId, amount: amountCents / 100, country, address: `${index + 1} chaos street` },
    };
  });
}
