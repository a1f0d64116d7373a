import { Server, Socket, createServer, connect } from 'node:net';

/**
 * Where a cut falls in the targeted HTTP request: `mid-request` forwards the headers and half the body, then
 * cuts (the server never saw a whole request, so it stored nothing); `after-response` forwards the whole request
 * and cuts as the server's answer arrives, which the client never gets (the server stored the request).
 */
export type CutPoint = 'mid-request' | 'after-response';

/** A TCP proxy in front of an HTTP server that lets everything through until told to cut one request. */
export interface CuttingProxy {
  readonly url: string;
  /**
   * The next request whose start matches `request` is cut at `at`: `onCut` runs there (e.g. kill -9 the
   * server), then the client's connection is dropped. Resolves once that happened.
   */
  cutNext(request: RegExp, at: CutPoint, onCut: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

interface Armed {
  readonly request: RegExp;
  readonly at: CutPoint;
  readonly onCut: () => Promise<void>;
  readonly done: (err?: Error) => void;
}

export async function startCuttingProxy(port: number, upstreamPort: number): Promise<CuttingProxy> {
  let armed: Armed | undefined;
  const sockets = new Set<Socket>();

  const cut = (armedCut: Armed, client: Socket, upstream: Socket): void => {
    client.pause();
    upstream.pause();
    armedCut.onCut().then(
      () => {
        client.destroy();
        upstream.destroy();
        armedCut.done();
      },
      (err: Error) => armedCut.done(err),
    );
  };

  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.once('close', () => sockets.delete(client));
    upstream.once('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());

    /** This connection carries the targeted request: bytes of it still to forward (mid-request). */
    let quota: number | undefined;
    let mine: Armed | undefined;
    let awaitingAnswer = false;

    client.on('data', (chunk: Buffer) => {
      if (mine === undefined && armed !== undefined && armed.request.test(chunk.toString('latin1'))) {
        mine = armed;
        armed = undefined;
        if (mine.at === 'after-response') awaitingAnswer = true;
        else {
          const text = chunk.toString('latin1');
          const headerEnd = text.indexOf('\r\n\r\n');
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? NaN);
          if (headerEnd < 0 || !Number.isFinite(length) || length < 2) {
            mine.done(new Error('the targeted request has no content-length body in its first packet'));
            return;
          }
          quota = headerEnd + 4 + Math.floor(length / 2);
        }
      }
      if (quota === undefined) {
        upstream.write(chunk);
        return;
      }
      const part = chunk.subarray(0, quota);
      quota -= part.length;
      upstream.write(part, () => {
        if (quota === 0 && mine) {
          quota = -1;
          cut(mine, client, upstream);
        }
      });
    });
    upstream.on('data', (chunk: Buffer) => {
      if (awaitingAnswer && mine) {
        awaitingAnswer = false;
        cut(mine, client, upstream);
        return;
      }
      if (!mine) client.write(chunk);
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    cutNext(request, at, onCut) {
      if (armed) return Promise.reject(new Error('a cut is already armed'));
      return new Promise<void>((resolveCut, reject) => {
        armed = { request, at, onCut, done: (err) => (err ? reject(err) : resolveCut()) };
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
