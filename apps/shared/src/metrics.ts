import { Controller, Get, NotFoundException, Req, Res } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { envString, type Env } from './env';

/** This process's exporter, once `startMetrics` has registered it. */
let exporter: PrometheusExporter | undefined;
let provider: MeterProvider | undefined;

/**
 * Registers an OpenTelemetry MeterProvider read by a Prometheus exporter, so that `GET /metrics` (`MetricsController`)
 * serves the library's metrics (`saga.*`, see the README) in Prometheus' text format. Call it before the Nest app is
 * created: the library creates its instruments at boot, from the global provider of that moment. `METRICS=off`
 * leaves the OpenTelemetry API a no-op (and `/metrics` answers 404). Returns whether metrics are on.
 */
export function startMetrics(service: string, env: Env = process.env): boolean {
  const setting = envString(env, 'METRICS', 'on').toLowerCase();
  if (setting !== 'on' && setting !== 'off') {
    throw new Error(`Environment variable METRICS must be 'on' or 'off', got '${env.METRICS}'.`);
  }
  if (setting === 'off' || exporter) return !!exporter;
  // Served by the app's own HTTP server (MetricsController), not by a second one on another port.
  exporter = new PrometheusExporter({ preventServerStart: true });
  provider = new MeterProvider({
    readers: [exporter],
    resource: resourceFromAttributes({ 'service.name': service }),
  });
  metrics.setGlobalMeterProvider(provider);
  return true;
}

/** Unregisters the provider (tests). */
export async function stopMetrics(): Promise<void> {
  const stopping = provider;
  exporter = undefined;
  provider = undefined;
  metrics.disable();
  await stopping?.shutdown();
}

/** `GET /metrics`: the Prometheus scrape endpoint of a sample service. */
@Controller('metrics')
export class MetricsController {
  @Get()
  scrape(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    if (!exporter) throw new NotFoundException('Metrics are off in this service (METRICS=off).');
    exporter.getMetricsRequestHandler(request, response);
  }
}
