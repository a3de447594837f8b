// Small assertions many specs share.
import { expect } from 'chai';

/**
 * The error a promise (or a function, sync or async) fails with; fails the
 * spec if it succeeds. `E` is what the spec expects it to be (an SDK's error).
 */
export async function rejection<E = Error>(promise: Promise<unknown> | (() => unknown)): Promise<E> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    return err as E;
  }
  throw new Error('expected a rejection, but it succeeded');
}

/** A CLI's stderr holds its one-line message, no stack trace. */
export function noStackTrace(stderr: string): void {
  expect(stderr).to.not.match(/\n\s+at /);
}
