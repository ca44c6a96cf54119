import { type DemoOutcome, formatTable, mismatches, printReport } from './report';
import { DEMO_SCENARIOS } from './scenarios';

const bobRefunded = DEMO_SCENARIOS[2];
const entry = (step: string, phase: string, outcome: string) => ({
  step,
  phase,
  attempt: 1,
  outcome,
  detail: null,
});
const bobOutcome = (over: Partial<DemoOutcome> = {}): DemoOutcome => ({
  scenario: bobRefunded,
  orderId: 'o-1',
  sagaId: 's-1',
  orderStatus: 'REJECTED',
  saga: {
    status: 'COMPENSATED',
    history: [
      entry('create', 'invoke', 'succeeded'),
      entry('charge', 'reply', 'succeeded'),
      entry('ship', 'reply', 'failed'),
      entry('charge', 'compensate', 'sent'),
      entry('charge', 'compensate-reply', 'succeeded'),
      entry('create', 'compensate', 'succeeded'),
    ],
  },
  ...over,
});

describe('demo report', () => {
  it('accepts an outcome that matches its scenario', () => {
    expect(mismatches(bobOutcome())).toEqual([]);
  });

  it('names every difference', () => {
    const outcome = bobOutcome({ orderStatus: null, saga: { status: 'COMPLETED', history: [] } });
    expect(mismatches(outcome)).toEqual([
      'saga is COMPLETED, expected COMPENSATED',
      'order is missing, expected REJECTED',
      "step 'ship' did not fail",
      'compensated [], expected [charge, create]',
    ]);
  });

  it('prints aligned tables and reports the overall result', () => {
    expect(formatTable(['a', 'bb'], [['xyz', '1']])).toEqual(['a    bb', '---  --', 'xyz  1']);
    const lines: string[] = [];
    expect(printReport('t', [bobOutcome()], (l) => lines.push(l))).toBe(true);
    expect(lines.at(-1)).toContain('All 1 orders ended as expected');
    expect(printReport('t', [bobOutcome({ orderStatus: 'APPROVED' })], () => undefined)).toBe(false);
  });
});
