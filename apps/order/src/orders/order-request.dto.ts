import { Transform } from 'class-transformer';
import { IsISO31661Alpha2, IsNotEmpty, IsNumber, IsPositive, IsString, MaxLength } from 'class-validator';

const upperCase = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? value.toUpperCase() : value;

/** The body of `POST /orders`. The server chooses the order id. */
export class OrderRequest {
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  customerId: string;

  @IsNumber({ allowNaN: false, allowInfinity: false, maxDecimalPlaces: 2 })
  @IsPositive()
  amount: number;

  /** ISO 3166-1 alpha-2 code, e.g. `FR` (stored upper-case). */
  @Transform(upperCase)
  @IsISO31661Alpha2()
  country: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  address: string;
}
