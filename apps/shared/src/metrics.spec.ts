import { metrics } from '@opentelemetry/api';
import { startMetrics, stopMetrics } from './metrics';

describe('startMetrics (the sample services’ Prometheus endpoint)', () => {
  afterEach(() => stopMetrics());

  it('registers a global MeterProvider by default, once', () => {
    expect(startMetrics('payment', {})).toBe(true);
    const provider = metrics.getMeterProvider();
    expect(provider.constructor.name).toBe('MeterProvider');
    expect(startMetrics('payment', {})).toBe(true);
    expect(metrics.getMeterProvider()).toBe(provider);
  });

  it('leaves the API a no-op with METRICS=off', () => {
    expect(startMetrics('payment', { METRICS: 'off' })).toBe(false);
    expect(metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider');
  });

  it('refuses any other value of METRICS, naming the variable', () => {
    expect(() => startMetrics('payment', { METRICS: 'yes' })).toThrow(
      "Environment variable METRICS must be 'on' or 'off', got 'yes'.",
    );
  });
});
