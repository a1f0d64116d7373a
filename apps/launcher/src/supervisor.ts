import { ChildProcess, spawn } from 'node:child_process';
import { colourFor, createLinePrefixer, formatPrefix } from './output';

export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Grace period after SIGTERM before SIGKILL. */
  readonly stopTimeoutMs?: number;
}

export interface ChildExit {
  readonly name: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Running {
  readonly spec: ChildSpec;
  readonly child: ChildProcess;
  readonly exited: Promise<ChildExit>;
  exit?: ChildExit;
}

export function describeExit(e: ChildExit): string {
  return e.signal ? `${e.name} was killed by ${e.signal}` : `${e.name} exited with code ${e.code}`;
}

/**
 * Starts children in their own process groups (so a terminal's Ctrl-C reaches only the launcher, which then
 * stops them in reverse order) and prefixes their output. A child that exits before `stopAll` is reported
 * through `onUnexpectedExit`.
 */
export class Supervisor {
  private readonly running: Running[] = [];
  private stopping = false;

  constructor(
    private readonly out: (text: string) => void,
    private readonly colour: boolean,
    private readonly prefixWidth: number,
    private readonly onUnexpectedExit: (exit: ChildExit) => void,
  ) {}

  log(name: string, message: string): void {
    const prefix = formatPrefix(name, this.prefixWidth, this.colour ? 1 : null);
    for (const line of message.split('\n')) this.out(`${prefix}${line}\n`);
  }

  start(spec: ChildSpec): { readonly pid: number | undefined; readonly exited: Promise<ChildExit> } {
    const prefix = formatPrefix(
      spec.name,
      this.prefixWidth,
      this.colour ? colourFor(this.running.length) : null,
    );
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout = createLinePrefixer(prefix, this.out);
    const stderr = createLinePrefixer(prefix, this.out);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => stdout.push(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
    const exited = new Promise<ChildExit>((resolve) => {
      child.once('error', (err) => {
        stdout.flush();
        stderr.flush();
        this.log(spec.name, `could not start ${spec.command}: ${err.message}`);
        resolve({ name: spec.name, code: 127, signal: null });
      });
      child.once('close', (code, signal) => {
        stdout.flush();
        stderr.flush();
        resolve({ name: spec.name, code, signal });
      });
    });
    if (child.pid !== undefined) this.log(spec.name, `started (pid ${child.pid})`);
    const entry: Running = { spec, child, exited };
    this.running.push(entry);
    void exited.then((exit) => {
      entry.exit = exit;
      if (!this.stopping) this.onUnexpectedExit(exit);
    });
    return { pid: child.pid, exited };
  }

  /** Pids of the children that have not exited. */
  alivePids(): number[] {
    return this.running.filter((r) => !r.exit && r.child.pid !== undefined).map((r) => r.child.pid as number);
  }

  /** Stops every child, last started first: SIGTERM, then SIGKILL to its group after the grace period. */
  async stopAll(): Promise<ChildExit[]> {
    this.stopping = true;
    const exits: ChildExit[] = [];
    for (const r of [...this.running].reverse()) exits.push(await this.stop(r));
    return exits;
  }

  /** Kills every remaining child group at once (second Ctrl-C). */
  killAll(): void {
    this.stopping = true;
    for (const r of this.running) if (!r.exit) signalGroup(r.child, 'SIGKILL');
  }

  private async stop(r: Running): Promise<ChildExit> {
    if (!r.exit) {
      this.log(r.spec.name, 'stopping…');
      signalChild(r.child, 'SIGTERM');
      const timeoutMs = r.spec.stopTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.log(r.spec.name, `still running after ${timeoutMs / 1000} s: SIGKILL`);
        signalGroup(r.child, 'SIGKILL');
      }, timeoutMs);
      await r.exited;
      clearTimeout(timer);
    }
    // Leave nothing of the child's group behind (e.g. training processes of a worker).
    signalGroup(r.child, 'SIGKILL');
    return r.exited;
  }
}

function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}
