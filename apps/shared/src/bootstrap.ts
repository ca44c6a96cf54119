import { type DynamicModule, Logger, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { startMetrics } from './metrics';
import { startTracing } from './tracing';

/**
 * Starts an HTTP app on the configured port, closes it cleanly on SIGTERM/SIGINT (the saga transport
 * drains and disconnects), and exits non-zero when configuration or startup fails.
 */
export function serve(
  name: string,
  rootModule: () => Type<unknown> | DynamicModule,
  loadConfig: () => { port: number },
): void {
  const logger = new Logger(name);
  const start = async (): Promise<void> => {
    const { port } = loadConfig();
    // Before the app: the library creates its instruments at boot.
    startMetrics(name);
    startTracing(name);
    // While shutting down, answer 503 (and close keep-alive connections) so clients retry on another replica
    // instead of holding the server open, and no order is accepted after the saga runtime has stopped.
    const app = await NestFactory.create(rootModule(), { return503OnClosing: true });
    app.enableShutdownHooks();
    await app.listen(port);
    logger.log(`listening on ${await app.getUrl()}`);
  };
  start().catch((error: unknown) => {
    logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
}
