import { Logger, type INestApplication } from '@nestjs/common';

/** Listens on `port`, closes the app cleanly on SIGTERM/SIGINT, and exits non-zero if startup fails. */
export function serve(name: string, create: () => Promise<INestApplication>, port: number): void {
  const logger = new Logger(name);
  const start = async (): Promise<void> => {
    const app = await create();
    app.enableShutdownHooks();
    await app.listen(port);
    logger.log(`listening on ${await app.getUrl()}`);
  };
  start().catch((error: unknown) => {
    logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
}
