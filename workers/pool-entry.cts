// The file piscina loads in each thread. Piscina first tries require() on its
// task file; on Node >= 20.19 a require() of an ES module instantiates it
// synchronously, and a thread terminated in the middle of that (a pool closed
// while an idle thread is still starting) aborts the whole process in V8.
// This entry is CommonJS, and loads the real worker module with import(),
// which a terminate interrupts safely.
import { workerData } from 'node:worker_threads';

type Handler = (task: unknown) => Promise<unknown>;
let handler: Promise<Handler> | null = null;

async function load(): Promise<Handler> {
  const mod = await import((workerData as { entry: string }).entry);
  return mod.default as Handler;
}

module.exports = async function run(task: unknown): Promise<unknown> {
  handler ??= load();
  return (await handler)(task);
};
