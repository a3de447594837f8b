// One-line refusal texts shared by the worker and the broker, so the model
// reads the same sentence whichever side noticed the problem.

export function unknownToolMessage(name: string, granted: readonly string[]): string {
  return `tool "${name}" is not available to this session; available tools: ${granted.join(', ') || 'none'}`;
}
