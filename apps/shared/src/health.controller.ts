import { Controller, Get } from '@nestjs/common';

/** Liveness for process managers and the distributed demo: answers once the app (and its saga transport) is up. */
@Controller('health')
export class HealthController {
  @Get()
  check(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
