import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { envOptional, type Env } from './env';

const TRACES_ENDPOINT = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';

let provider: TracerProvider | undefined;

/**
 * Exports the library's spans (see the README's "Tracing and metrics") over OTLP/HTTP when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, e.g. `http://jaeger:4318`: a
 * TracerProvider with a batching processor, async context across awaits, and W3C trace context — which the library
 * puts on every message, so one saga is one trace across the services. The exporter reads the other standard
 * `OTEL_EXPORTER_OTLP_*` variables itself; `OTEL_BSP_SCHEDULE_DELAY` (ms, default 5000) sets how often spans are
 * sent. Unset: the API stays a no-op. Returns whether tracing is on.
 */
export function startTracing(service: string, env: Env = process.env): boolean {
  if (provider) return true;
  const variable = envOptional(env, TRACES_ENDPOINT) ? TRACES_ENDPOINT : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const endpoint = envOptional(env, variable);
  if (!endpoint) return false;
  if (!/^https?:\/\/[^/]/.test(endpoint)) {
    throw new Error(`${variable} must be a URL such as http://collector:4318, got '${endpoint}'.`);
  }
  const delay = envOptional(env, 'OTEL_BSP_SCHEDULE_DELAY');
  const scheduledDelayMillis = delay ? Number(delay) : undefined;
  if (
    scheduledDelayMillis !== undefined &&
    !(Number.isInteger(scheduledDelayMillis) && scheduledDelayMillis > 0)
  ) {
    throw new Error(`OTEL_BSP_SCHEDULE_DELAY must be a positive number of milliseconds, got '${delay}'.`);
  }
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis })],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return true;
}

/** Exports the spans still batched and unregisters the provider (on shutdown: see `TelemetryModule`). */
export async function stopTracing(): Promise<void> {
  const stopping = provider;
  provider = undefined;
  if (!stopping) return;
  await stopping.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
}
