import { Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { MetricsController, stopMetrics } from './metrics';
import { stopTracing } from './tracing';

/** Flushes the spans still batched when the app closes (SIGTERM), after the saga runtime has stopped. */
@Injectable()
class TelemetryShutdown implements OnApplicationShutdown {
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([stopTracing(), stopMetrics()]);
  }
}

/**
 * `GET /metrics` and the flush of telemetry on shutdown, for a sample service whose `serve()` started metrics and
 * tracing (see `metrics.ts`, `tracing.ts`).
 */
@Module({ controllers: [MetricsController], providers: [TelemetryShutdown] })
export class TelemetryModule {}
