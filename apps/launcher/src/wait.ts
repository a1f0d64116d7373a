import { connect } from 'node:net';
import { Connection } from '@temporalio/client';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WaitAborted extends Error {
  override readonly name = 'WaitAborted';
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Stops waiting early (e.g. the process we wait for was given up on, or shutdown began). */
  readonly signal?: AbortSignal;
  /** A later start of the timeout (ms since the epoch; read on each try): a restarted child's last start. */
  readonly since?: () => number;
}

/** Polls `probe` until it resolves true; throws with `what` and the last error after the timeout. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: WaitOptions,
): Promise<void> {
  const calledAt = Date.now();
  const deadline = () => Math.max(calledAt, opts.since?.() ?? calledAt) + opts.timeoutMs;
  let last = '';
  for (;;) {
    if (opts.signal?.aborted) throw new WaitAborted(`stopped waiting for ${what}`);
    try {
      if (await probe()) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline()) {
      throw new Error(
        `${what} not ready after ${Math.round(opts.timeoutMs / 1000)} s${last ? ` (${last})` : ''}`,
      );
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

/** Whether something accepts TCP connections on host:port. */
export function tcpAccepts(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether a Temporal frontend at `address` answers for `namespace` (a real gRPC round trip). */
export async function temporalAnswers(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}

/** Whether `url` answers with a 2xx status. */
export async function httpOk(url: string, timeoutMs = 2000): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer();
  return res.ok;
}

/** Temporal's TaskQueueType: 1 = workflow, 2 = activity. */
export type PollerKind = 'workflow' | 'activity';

/**
 * Whether a worker polls `taskQueue` for `kind` tasks (the worker is up and connected); with `pid`, the worker
 * process with that pid (the SDK's default identity is `<pid>@<host>`).
 */
export async function taskQueuePolled(
  address: string,
  namespace: string,
  taskQueue: string,
  kind: PollerKind,
  pid?: number,
): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    const res = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: kind === 'workflow' ? 1 : 2,
    });
    const pollers = res.pollers ?? [];
    if (pid === undefined) return pollers.length > 0;
    return pollers.some((p) => p.identity?.startsWith(`${pid}@`) ?? false);
  } finally {
    await connection.close();
  }
}
