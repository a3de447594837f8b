/**
 * Sum of the numbers (0 for none).
 * @param {number[]} values
 * @returns {number}
 */
export function sum(values) {
  return values.reduce((total, value) => total + value, 0);
}

/**
 * Arithmetic mean; throws on an empty list because it has no mean.
 * @param {number[]} values
 * @returns {number}
 */
export function mean(values) {
  if (values.length === 0) throw new RangeError('mean of an empty list');
  return sum(values) / values.length;
}
