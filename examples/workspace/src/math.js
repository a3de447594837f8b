/** Sum of the numbers (0 for none). */
export function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** Arithmetic mean; throws on an empty list because it has no mean. */
export function mean(values: number[]): number {
  if (values.length === 0) throw new RangeError('mean of an empty list');
  return sum(values) / values.length;
}
