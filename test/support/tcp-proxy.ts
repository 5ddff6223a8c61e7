import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real service, to simulate it going away without touching it
 * (other test files share the service): `cut()` drops every open connection, `refuse()` also
 * drops new ones as they arrive, `blackhole()` keeps every connection open but passes nothing
 * either way (a dead host or a dropped network: no reset ever comes), `restore()` lets them
 * through again.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private silent = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    this.port = address.port;
    return this.port;
  }

  /** Connections open through the proxy (both directions count as one). */
  get connections(): number {
    return this.sockets.size / 2;
  }

  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Cuts, and resets every new connection until `restore()`. */
  refuse(): void {
    this.refusing = true;
    this.cut();
  }

  /** Connections stay open, new ones are accepted, and nothing passes in either direction. */
  blackhole(): void {
    this.silent = true;
    for (const s of this.sockets) s.pause();
  }

  /** Lets connections through again; the ones that were held silent are dropped. */
  restore(): void {
    this.refusing = false;
    if (this.silent) {
      this.silent = false;
      this.cut();
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(this.targetPort, this.targetHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    if (this.silent) {
      client.pause();
      upstream.pause();
    }
  }
}
