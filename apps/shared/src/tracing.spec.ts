import { trace } from '@opentelemetry/api';
import { startTracing, stopTracing } from './tracing';

describe('startTracing (the sample services’ OTLP trace export)', () => {
  afterEach(() => stopTracing());

  it('stays off (the API a no-op) without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    expect(startTracing('order', {})).toBe(false);
    expect(trace.getTracer('x').startSpan('s').spanContext().traceFlags).toBe(0); // a non-recording span
  });

  it('registers a TracerProvider when an endpoint is set, once', () => {
    expect(startTracing('order', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    // Not ended: nothing to export when the provider shuts down.
    expect(trace.getTracer('x').startSpan('s').isRecording()).toBe(true);
    expect(startTracing('order', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
  });

  it('refuses a malformed endpoint or batch delay, naming the variable', () => {
    expect(() => startTracing('order', { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT must be a URL/,
    );
    expect(() => startTracing('order', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' })).toThrow(
      /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be a URL/,
    );
    expect(() =>
      startTracing('order', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_BSP_SCHEDULE_DELAY: 'soon',
      }),
    ).toThrow("OTEL_BSP_SCHEDULE_DELAY must be a positive number of milliseconds, got 'soon'.");
  });
});
