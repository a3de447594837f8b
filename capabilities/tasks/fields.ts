// Input fields the task tools share, so every tool names and bounds them alike.
import { Type } from '@sinclair/typebox';

export const TaskIdField = (description = 'Task id CHAIN-ID/NNN-slug (NNN-slug alone when unique)') =>
  Type.String({ minLength: 1, maxLength: 200, description });

export const ChainIdField = (description = 'A chain id such as CHAIN-001-add-login (default: all chains)') =>
  Type.Optional(Type.String({ minLength: 1, maxLength: 200, description }));

export const FeedbackField = (description: string) => Type.Optional(Type.String({ maxLength: 50_000, description }));
