// The tool-call benchmark's baseline: a plain worker thread that runs the
// probe's loop against a port whose other end (on the main thread) only reads
// the file and numbers its lines. The same read done the same way, minus the
// broker: what is subtracted from choragen's round trip.
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { type ToolCallProbe, timeReadRoundTrips } from './tool-call-worker.js';

const { port, probe } = workerData as { port: MessagePort; probe: ToolCallProbe };
timeReadRoundTrips(port, probe)
  .then((samples) => parentPort!.postMessage({ samples }), (err: Error) => parentPort!.postMessage({ error: err.message }))
  .finally(() => port.close());
