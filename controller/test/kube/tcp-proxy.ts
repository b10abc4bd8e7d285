// A TCP relay between a client and the test bed's API server, so a suite can break the
// connections of a live watch (as a load balancer or a network blip does) and refuse new ones
// for a while, against the real server. TLS passes through untouched: the server's
// certificate is for 127.0.0.1, whatever the port.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

/** A relay on 127.0.0.1:<port> to `target`; see the file comment. */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #refusing = false;
  /** Connections accepted and relayed so far. */
  connections = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts relaying to `target` (host:port of an https URL). */
  static async start(target: URL): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server);
    server.on('connection', (client) => proxy.accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** https URL of the relay, for a kubeconfig's cluster.server. */
  get url(): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    return `https://127.0.0.1:${address.port}`;
  }

  /** Destroys every open connection (both sides), as a network failure would. */
  breakConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** New connections are reset at once until resume(). */
  refuse(): void {
    this.#refusing = true;
  }

  /** Relays new connections again. */
  resume(): void {
    this.#refusing = false;
  }

  /** Breaks everything and stops listening. */
  async close(): Promise<void> {
    this.breakConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  private accept(client: Socket, target: URL): void {
    if (this.#refusing) {
      client.destroy();
      return;
    }
    this.connections++;
    const upstream = connect(Number(target.port || 443), target.hostname);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
