import { ChildProcess, spawn } from 'node:child_process';
import { colourFor, createLinePrefixer, formatPrefix } from './output';
import {
  DEFAULT_RESTART_POLICY,
  RestartPolicy,
  RestartPolicyOptions,
  describeCrashLoop,
  describeRestart,
} from './restart-policy';

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

export function describeExit(e: ChildExit): string {
  return e.signal ? `${e.name} was killed by ${e.signal}` : `${e.name} exited with code ${e.code}`;
}

/** A supervised child across its restarts. */
export interface ChildHandle {
  /** Pid of the current process (a restart changes it). */
  pid(): number | undefined;
  /** When the current process was started (ms since the epoch). */
  startedAt(): number;
  /** Resolves with the last exit once the child is down for good: stopped, or given up on. */
  readonly ended: Promise<ChildExit>;
}

export interface SupervisorOptions {
  readonly out: (text: string) => void;
  readonly colour: boolean;
  readonly prefixWidth: number;
  /** The prefix of the supervisor's own lines (restarts, crash loops). */
  readonly selfName: string;
  readonly restartPolicy?: RestartPolicyOptions;
  /** A child crashed too often; it is not restarted (the caller stops the rest). */
  readonly onCrashLoop: (exit: ChildExit, message: string) => void;
}

/** One start of a child. */
interface Run {
  readonly child: ChildProcess;
  readonly startedAt: number;
  readonly exited: Promise<ChildExit>;
  exit?: ChildExit;
}

interface Supervised {
  readonly spec: ChildSpec;
  readonly colour: number | null;
  readonly policy: RestartPolicy;
  run: Run;
  restartTimer?: NodeJS.Timeout;
  done: boolean;
  readonly end: (exit: ChildExit) => void;
}

/**
 * Starts children in their own process groups (so a terminal's Ctrl-C reaches only the launcher, which then
 * stops them in reverse order) and prefixes their output. A child that exits before `stopAll` is restarted
 * with exponential backoff; one that keeps crashing is given up on through `onCrashLoop`.
 */
export class Supervisor {
  private readonly children: Supervised[] = [];
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {}

  log(name: string, message: string): void {
    const prefix = formatPrefix(name, this.options.prefixWidth, this.options.colour ? 1 : null);
    for (const line of message.split('\n')) this.options.out(`${prefix}${line}\n`);
  }

  start(spec: ChildSpec): ChildHandle {
    let end: (exit: ChildExit) => void = () => undefined;
    const ended = new Promise<ChildExit>((resolve) => (end = resolve));
    const colour = this.options.colour ? colourFor(this.children.length) : null;
    const entry: Supervised = {
      spec,
      colour,
      policy: new RestartPolicy(this.options.restartPolicy ?? DEFAULT_RESTART_POLICY),
      run: this.spawn(spec, colour),
      done: false,
      end: (exit) => {
        if (entry.done) return;
        entry.done = true;
        end(exit);
      },
    };
    this.children.push(entry);
    this.watch(entry);
    return {
      pid: () => entry.run.child.pid,
      startedAt: () => entry.run.startedAt,
      ended,
    };
  }

  /** Pids of the children that are running now. */
  alivePids(): number[] {
    return this.children
      .filter((c) => !c.run.exit && c.run.child.pid !== undefined)
      .map((c) => c.run.child.pid as number);
  }

  /**
   * Stops every child, last started first: SIGTERM, then SIGKILL to its group after the grace period. Nothing
   * restarts from here on. Returns the exits of the processes it stopped.
   */
  async stopAll(): Promise<ChildExit[]> {
    this.beginStopping();
    const exits: ChildExit[] = [];
    for (const c of [...this.children].reverse()) {
      const exit = await this.stop(c);
      if (exit) exits.push(exit);
    }
    return exits;
  }

  /** Kills every remaining child group at once (second Ctrl-C). */
  killAll(): void {
    this.beginStopping();
    for (const c of this.children) if (!c.run.exit) signalGroup(c.run.child, 'SIGKILL');
  }

  private beginStopping(): void {
    this.stopping = true;
    for (const c of this.children) clearTimeout(c.restartTimer);
  }

  private spawn(spec: ChildSpec, colour: number | null): Run {
    const prefix = formatPrefix(spec.name, this.options.prefixWidth, colour);
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout = createLinePrefixer(prefix, this.options.out);
    const stderr = createLinePrefixer(prefix, this.options.out);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => stdout.push(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
    // Whatever the child left in its group (e.g. a worker's training processes) goes with it.
    child.once('exit', () => signalGroup(child, 'SIGKILL'));
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
    return { child, startedAt: Date.now(), exited };
  }

  /** Records the current run's exit and, unless stopping, restarts the child or gives up on it. */
  private watch(c: Supervised): void {
    const run = c.run;
    void run.exited.then((exit) => {
      run.exit = exit;
      if (this.stopping || c.done) return;
      const now = Date.now();
      const decision = c.policy.onCrash(now, now - run.startedAt);
      if (decision.kind === 'crash-loop') {
        c.end(exit);
        this.options.onCrashLoop(exit, describeCrashLoop(c.spec.name, describeExit(exit), decision));
        return;
      }
      this.log(this.options.selfName, describeRestart(describeExit(exit), decision));
      c.restartTimer = setTimeout(() => {
        if (this.stopping) return;
        c.run = this.spawn(c.spec, c.colour);
        this.watch(c);
      }, decision.delayMs);
    });
  }

  private async stop(c: Supervised): Promise<ChildExit | undefined> {
    const r = c.run;
    let stopped: ChildExit | undefined;
    if (!r.exit) {
      this.log(c.spec.name, 'stopping…');
      signalChild(r.child, 'SIGTERM');
      const timeoutMs = c.spec.stopTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.log(c.spec.name, `still running after ${timeoutMs / 1000} s: SIGKILL`);
        signalGroup(r.child, 'SIGKILL');
      }, timeoutMs);
      stopped = await r.exited;
      clearTimeout(timer);
    }
    // Leave nothing of the child's group behind (e.g. training processes of a worker).
    signalGroup(r.child, 'SIGKILL');
    c.end(await r.exited);
    return stopped;
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
