import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CreateOrders1760000001000 } from './migrations/1760000001000-create-orders';
import { Order } from './orders/order.entity';
import { OrdersController } from './orders/orders.controller';
import { OrdersService } from './orders/orders.service';
import { PlaceOrderSaga } from './place-order/place-order.saga';
import { OperatorGuard, operatorTokenProvider } from './operator.guard';
import { SagasController } from './sagas.controller';

/** The order service's tables, for the root module's DataSource. */
export const orderEntities = [Order];
export const orderMigrations = [CreateOrders1760000001000];

/**
 * Orders and the place-order saga. The root module decides the database (TypeOrmModule.forRoot with
 * `orderEntities`/`orderMigrations`) and the saga transport (SagaModule.forRoot).
 */
@Module({
  imports: [TypeOrmModule.forFeature([Order])],
  controllers: [OrdersController, SagasController],
  providers: [OrdersService, PlaceOrderSaga, OperatorGuard, operatorTokenProvider],
  exports: [OrdersService],
})
export class OrderModule {}
