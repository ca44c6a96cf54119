import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { insertRow } from '../../../shared/src/database';
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
    await insertRow(manager, Order, { id: orderId, customerId, amount, country, status: 'PENDING', sagaId });
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
    await manager.update(Order, { id: orderId }, { status });
  }
}
