/**
 * The scripted orders of the demos (monolith and distributed) and what each must end in. The demo
 * customers are seeded by the payment service: alice and bob have 1000 of credit, carol 10.
 */
export interface DemoOrder {
  customerId: string;
  amount: number;
  country: string;
  address: string;
}

export interface DemoExpectation {
  sagaStatus: 'COMPLETED' | 'COMPENSATED';
  orderStatus: 'APPROVED' | 'REJECTED';
  /** The step whose failure started the compensation. */
  failedStep?: string;
  /** The steps compensated, in the order their compensations succeeded. */
  compensated: string[];
}

export interface DemoScenario {
  label: string;
  order: DemoOrder;
  expect: DemoExpectation;
}

export const DEMO_SCENARIOS: readonly DemoScenario[] = [
  {
    label: 'a) alice orders 100, ships to FR',
    order: { customerId: 'alice', amount: 100, country: 'FR', address: '1 rue de Rivoli, 75001 Paris' },
    expect: { sagaStatus: 'COMPLETED', orderStatus: 'APPROVED', compensated: [] },
  },
  {
    label: 'b) carol orders 100 (credit 10)',
    order: { customerId: 'carol', amount: 100, country: 'FR', address: '5 quai Voltaire, 75007 Paris' },
    expect: {
      sagaStatus: 'COMPENSATED',
      orderStatus: 'REJECTED',
      failedStep: 'charge',
      compensated: ['create'],
    },
  },
  {
    label: 'c) bob orders 100, ships to AQ',
    order: { customerId: 'bob', amount: 100, country: 'AQ', address: 'McMurdo Station, Ross Island' },
    expect: {
      sagaStatus: 'COMPENSATED',
      orderStatus: 'REJECTED',
      failedStep: 'ship',
      compensated: ['charge', 'create'],
    },
  },
];
