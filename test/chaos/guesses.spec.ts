import { parseGuesses } from '../../scripts/chaos/guesses';

describe('chaos: the coordinators’ guesses read from /metrics', () => {
  it('sums saga_coordinator_guesses_total by outcome and ignores the rest', () => {
    const page = [
      '# HELP saga_coordinator_guesses_total Reply batches applied ahead of reading their sagas',
      '# TYPE saga_coordinator_guesses_total counter',
      'saga_coordinator_guesses_total{saga_guess="right",otel_scope_name="nestjs-saga"} 812',
      'saga_coordinator_guesses_total{saga_guess="stale",otel_scope_name="nestjs-saga"} 3',
      'saga_coordinator_guesses_total{saga_guess="duplicate",otel_scope_name="nestjs-saga"} 1',
      'saga_finished_total{saga_type="place-order",saga_status="COMPLETED"} 900',
    ].join('\n');
    expect(parseGuesses(page)).toEqual({ right: 812, stale: 3, duplicate: 1 });
    expect(parseGuesses('')).toEqual({ right: 0, stale: 0, duplicate: 0 });
  });
});
