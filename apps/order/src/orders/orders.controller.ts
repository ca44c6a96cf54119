import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { SagaManager, SagaValidationError, uuidv7 } from 'nestjs-saga';
import { bodyValidationPipe, invalidInput } from '../../../shared/src/validation';
import { PlaceOrderSaga } from '../place-order/place-order.saga';
import type { Order } from './order.entity';
import { OrderRequest } from './order-request.dto';
import { OrdersService } from './orders.service';

export interface PlacedOrder {
  orderId: string;
  sagaId: string;
}

/** Keys are stored prefixed (the library's key column holds 200 characters, shared by all saga types). */
const IDEMPOTENCY_KEY_PREFIX = 'place-order:';
const MAX_IDEMPOTENCY_KEY_LENGTH = 200 - IDEMPOTENCY_KEY_PREFIX.length;

@Controller('orders')
export class OrdersController {
  constructor(
    private readonly sagas: SagaManager,
    private readonly orders: OrdersService,
  ) {}

  /**
   * Starts the place-order saga and answers at once (202): follow it with `GET /sagas/:sagaId`.
   * With an `Idempotency-Key` header, a repeated request returns the first one's order and saga.
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async place(
    @Body(bodyValidationPipe()) body: OrderRequest,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<PlacedOrder> {
    if (
      idempotencyKey !== undefined &&
      (idempotencyKey === '' || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    ) {
      throw invalidInput('Invalid Idempotency-Key header', [
        {
          property: 'Idempotency-Key',
          constraints: [`must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`],
        },
      ]);
    }
    const orderId = uuidv7();
    let sagaId: string;
    try {
      sagaId = await this.sagas.start(
        PlaceOrderSaga,
        { ...body, orderId },
        { idempotencyKey: idempotencyKey && IDEMPOTENCY_KEY_PREFIX + idempotencyKey },
      );
    } catch (error) {
      if (error instanceof SagaValidationError) throw invalidInput('Invalid order', error.fields);
      throw error;
    }
    if (idempotencyKey === undefined) return { orderId, sagaId };
    // The key may belong to an earlier request: report that saga's order, not the id chosen just now.
    const view = await this.sagas.find(sagaId);
    return { orderId: storedOrderId(view?.data) ?? orderId, sagaId };
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<Order> {
    const order = await this.orders.findById(id);
    if (!order) throw new NotFoundException(`Order '${id}' does not exist.`);
    return order;
  }
}

function storedOrderId(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || !('orderId' in data)) return undefined;
  return typeof data.orderId === 'string' ? data.orderId : undefined;
}
