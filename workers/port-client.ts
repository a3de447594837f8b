// Request/response over one MessagePort: each request carries an id, the
// broker answers with the same id. The port is the only authority a session
// has; this client adds nothing to it.
import type { MessagePortLike } from '../capabilities/protocol.js';

export class PortClient<Out extends { id: number }, In extends { id: number }> {
  private nextId = 1;
  private readonly pending = new Map<number, (message: In) => void>();

  constructor(private readonly port: MessagePortLike<In>) {
    port.on('message', (message: In) => {
      const resolve = this.pending.get(message.id);
      if (!resolve) return;
      this.pending.delete(message.id);
      resolve(message);
    });
  }

  request(message: Omit<Out, 'id'>): Promise<In> {
    const id = this.nextId++;
    return new Promise<In>((resolve) => {
      this.pending.set(id, resolve);
      this.port.postMessage({ ...message, id });
    });
  }

  close(): void {
    this.port.close();
  }
}
