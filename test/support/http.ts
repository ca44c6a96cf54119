/** The 400 answer to `{ customerId: '', amount: -3, country: 'XX', extra: true }`: one entry per bad field. */
export const BAD_ORDER = { customerId: '', amount: -3, country: 'XX', extra: true };

/** Checks a 400 answer lists exactly the fields `BAD_ORDER` gets wrong (and the missing address), each with reasons. */
export async function expectBadOrderFields(res: Response): Promise<void> {
  expect(res.status).toBe(400);
  const body = (await res.json()) as { fields: { property: string; constraints: string[] }[] };
  expect(body.fields.map((f) => f.property).sort()).toEqual([
    'address',
    'amount',
    'country',
    'customerId',
    'extra',
  ]);
  expect(body.fields.every((f) => f.constraints.length > 0)).toBe(true);
}
