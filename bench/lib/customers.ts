/**
 * Customers the bench charges, round robin, each with a credit far above what a run spends. Many of them, so that
 * concurrent charges do not all queue on one customer row (the sample and the baseline both debit the customer's
 * credit in place). The library's variants seed them through the payment service's own `seedCustomers`, the
 * baseline with one INSERT, before the load starts.
 */
export const BENCH_CUSTOMERS = Array.from({ length: 1000 }, (_, i) => ({
  id: `bench-${String(i).padStart(4, '0')}`,
  creditLimit: 1_000_000_000,
}));

/** A new round robin over the customers' ids: one per load generator, so that each starts with the first. */
export function customerCycle(): () => string {
  let next = 0;
  return () => BENCH_CUSTOMERS[next++ % BENCH_CUSTOMERS.length].id;
}

/**
 * The parameters of a plain-SQL seed, `INSERT INTO <customers> (id, available_credit) SELECT unnest($1::text[]), $2`:
 * every id, and the credit they all have.
 */
export function customerSeedParams(): [string[], number] {
  return [BENCH_CUSTOMERS.map((c) => c.id), BENCH_CUSTOMERS[0].creditLimit];
}
