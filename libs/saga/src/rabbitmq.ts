/**
 * The RabbitMQ transport, a separate entry (`nestjs-saga/rabbitmq`) so that a monolith never loads amqplib.
 */
export * from './transport/rabbitmq';
