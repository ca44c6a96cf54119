import {
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import {
  SAGA_STATUSES,
  SagaManager,
  SagaNotFoundError,
  SagaOperationError,
  type SagaView,
} from 'nestjs-saga';
import { bodyValidationPipe, invalidInput } from '../../shared/src/validation';
import { OperatorGuard } from './operator.guard';

export class ListSagasQuery {
  /** Comma-separated statuses, e.g. `COMPENSATION_FAILED,RUNNING`. */
  @IsOptional()
  @IsString()
  status?: string;

  @IsOptional()
  @IsString()
  type?: string;

  /** Only sagas not updated for at least this many ms ("stuck for longer than…"). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  olderThanMs?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class OperatorActionBody {
  /** Why the operator acts: recorded in the saga's history. */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}

const ACTIONS = ['retry', 'resolve', 'abort'] as const;
type Action = (typeof ACTIONS)[number];

/**
 * Saga status and history, for clients polling after `POST /orders`, and the operator API: list sagas by status
 * and age, retry the current step or compensation, resolve it by hand, or abort (compensate) a running saga.
 * The operator routes (the list and the actions) need `Authorization: Bearer <OPERATOR_TOKEN>` (see `OperatorGuard`);
 * a saga's own status and history stay open to the client that holds its id.
 */
@Controller('sagas')
export class SagasController {
  constructor(private readonly sagas: SagaManager) {}

  @Get()
  @UseGuards(OperatorGuard)
  async list(@Query(bodyValidationPipe()) query: ListSagasQuery): Promise<SagaView[]> {
    const status = query.status?.split(',').map((s) => s.trim().toUpperCase());
    const unknown = status?.filter((s) => !(SAGA_STATUSES as readonly string[]).includes(s)) ?? [];
    if (unknown.length > 0) {
      throw invalidInput('Invalid query', [
        {
          property: 'status',
          constraints: [`unknown ${unknown.join(', ')}: use ${SAGA_STATUSES.join(', ')}`],
        },
      ]);
    }
    return this.sagas.list({
      status,
      type: query.type,
      updatedBefore: query.olderThanMs === undefined ? undefined : Date.now() - query.olderThanMs,
      limit: query.limit,
    });
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<SagaView> {
    const view = await this.sagas.find(id);
    if (!view) throw new NotFoundException(`Saga '${id}' does not exist.`);
    return view;
  }

  @Post(':id/:action')
  @UseGuards(OperatorGuard)
  @HttpCode(200)
  async act(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param('action') action: string,
    @Body(bodyValidationPipe()) body: OperatorActionBody,
  ): Promise<SagaView> {
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw new NotFoundException(`Unknown operator action '${action}': use ${ACTIONS.join(', ')}.`);
    }
    try {
      return await this.sagas[action as Action](id, body.reason);
    } catch (error) {
      if (error instanceof SagaNotFoundError) throw new NotFoundException(error.message);
      if (error instanceof SagaOperationError) throw new ConflictException(error.message);
      throw error;
    }
  }
}
