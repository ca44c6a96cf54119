import type { DemoScenario } from './scenarios';

/**
 * The parts of a saga view the demos print and check. `SagaView` from nestjs-saga satisfies it; it is
 * restated here so the distributed demo (which reads it as JSON over HTTP) needs no library code.
 */
export interface DemoSagaView {
  status: string;
  history: {
    step: string;
    phase: string;
    attempt: number;
    outcome: string;
    detail: Record<string, unknown> | null;
  }[];
}

/** How one scripted order ended. `orderStatus` is null when the order does not exist. */
export interface DemoOutcome {
  scenario: DemoScenario;
  orderId: string;
  sagaId: string;
  saga: DemoSagaView;
  orderStatus: string | null;
}

/** What differs from the scenario's expectation (empty when it behaved as expected). */
export function mismatches({ scenario: { expect }, saga, orderStatus }: DemoOutcome): string[] {
  const problems: string[] = [];
  if (saga.status !== expect.sagaStatus)
    problems.push(`saga is ${saga.status}, expected ${expect.sagaStatus}`);
  if (orderStatus !== expect.orderStatus) {
    problems.push(`order is ${orderStatus ?? 'missing'}, expected ${expect.orderStatus}`);
  }
  if (
    expect.failedStep &&
    !saga.history.some((h) => h.step === expect.failedStep && h.outcome === 'failed')
  ) {
    problems.push(`step '${expect.failedStep}' did not fail`);
  }
  const compensated = saga.history
    .filter((h) => h.phase.startsWith('compensate') && h.outcome === 'succeeded')
    .map((h) => h.step);
  if (compensated.join(',') !== expect.compensated.join(',')) {
    problems.push(`compensated [${compensated.join(', ')}], expected [${expect.compensated.join(', ')}]`);
  }
  return problems;
}

/** Left-aligned columns separated by two spaces, with a rule under the header. */
export function formatTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function detailText(detail: Record<string, unknown> | null): string {
  const message = detail?.['message'];
  return typeof message === 'string' ? message : '';
}

/** Prints each order's outcome and timeline, then a summary. Returns true when every scenario matched. */
export function printReport(title: string, outcomes: DemoOutcome[], write: (line: string) => void): boolean {
  write(`\n=== ${title} ===`);
  const summary: string[][] = [];
  for (const outcome of outcomes) {
    const problems = mismatches(outcome);
    const result = problems.length === 0 ? 'OK' : 'MISMATCH';
    write(`\n${outcome.scenario.label}`);
    write(`  order ${outcome.orderId}, saga ${outcome.sagaId}`);
    write(`  saga ${outcome.saga.status}, order ${outcome.orderStatus ?? 'missing'}: ${result}`);
    for (const problem of problems) write(`  ! ${problem}`);
    const timeline = outcome.saga.history.map((h) => [
      h.step,
      h.phase,
      String(h.attempt),
      h.outcome,
      detailText(h.detail),
    ]);
    for (const row of formatTable(['step', 'phase', 'attempt', 'outcome', 'detail'], timeline))
      write(`    ${row}`);
    const { sagaStatus, orderStatus } = outcome.scenario.expect;
    summary.push([
      outcome.scenario.label,
      outcome.saga.status,
      outcome.orderStatus ?? 'missing',
      `${sagaStatus} / ${orderStatus}`,
      result,
    ]);
  }
  write('\nSummary');
  for (const row of formatTable(['order', 'saga', 'order status', 'expected', 'result'], summary))
    write(`  ${row}`);
  const ok = outcomes.every((o) => mismatches(o).length === 0);
  write(ok ? `\nAll ${outcomes.length} orders ended as expected.` : '\nSome orders did not end as expected.');
  return ok;
}
