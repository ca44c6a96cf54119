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
