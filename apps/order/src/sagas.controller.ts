import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { SagaManager, type SagaView } from 'nestjs-saga';

/** Saga status and history, for clients polling after `POST /orders` and for operators. */
@Controller('sagas')
export class SagasController {
  constructor(private readonly sagas: SagaManager) {}

  @Get(':id')
  async get(@Param('id') id: string): Promise<SagaView> {
    const view = await this.sagas.find(id);
    if (!view) throw new NotFoundException(`Saga '${id}' does not exist.`);
    return view;
  }
}
