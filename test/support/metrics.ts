import { MetricReader, type CollectionResult } from '@opentelemetry/sdk-metrics';

/** Collects on demand (what a Prometheus scrape or a periodic exporter would read). */
export class TestReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

export type Point = { attributes: Record<string, unknown>; value: unknown };

/** The data points of metric `name` in a collection. */
export function points(result: CollectionResult, name: string): Point[] {
  const metric = result.resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === name);
  return metric?.dataPoints ?? [];
}

/** The value of the point of `name` whose attributes include `attributes`. */
export function valueOf(result: CollectionResult, name: string, attributes: Record<string, string>): unknown {
  const point = points(result, name).find((p) =>
    Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
  );
  return point?.value;
}
