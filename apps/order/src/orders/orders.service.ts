import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { execute } from '../../../shared/src/database';
import { Order, type OrderStatus } from './order.entity';

/** What an order is created from. */
export interface NewOrder {
  orderId: string;
  customerId: string;
  amount: number;
  country: string;
}

/** Orders. Writes take the caller's `EntityManager` so that they commit with the saga's transaction. */
@Injectable()
export class OrdersService {
  constructor(@InjectRepository(Order) private readonly orders: Repository<Order>) {}

  async createPending(manager: EntityManager, sagaId: string, order: NewOrder): Promise<void> {
    const { orderId, customerId, amount, country } = order;
    await execute(manager)`
      INSERT INTO orders (id, customer_id, amount, country, status, saga_id)
      VALUES (${orderId}, ${customerId}, ${amount}, ${country}, 'PENDING', ${sagaId})`;
  }

  async approve(manager: EntityManager, orderId: string): Promise<void> {
    await this.setStatus(manager, orderId, 'APPROVED');
  }

  async reject(manager: EntityManager, orderId: string): Promise<void> {
    await this.setStatus(manager, orderId, 'REJECTED');
  }

  findById(id: string): Promise<Order | null> {
    return this.orders.findOneBy({ id });
  }

  private async setStatus(manager: EntityManager, orderId: string, status: OrderStatus): Promise<void> {
    await execute(manager)`
      UPDATE orders SET status = ${status}, updated_at = CURRENT_TIMESTAMP WHERE id = ${orderId}`;
  }
}
