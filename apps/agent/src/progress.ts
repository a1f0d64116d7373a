import { SingleBar, Presets } from 'cli-progress';

/** Reports benchmark progress: a bar on a terminal, plain lines otherwise (logs, CI, pipes). */
export interface Progress {
  update(done: number, total: number, label: string): void;
  stop(): void;
}

export type Log = (line: string) => void;

export function createProgress(
  title: string,
  log: Log,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        format: `${title} [{bar}] {value}/{total} {label}`,
        hideCursor: true,
        stream,
        clearOnComplete: false,
      },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, label) {
        if (!started) {
          bar.start(total, done, { label });
          started = true;
        } else bar.update(done, { label });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = -1;
  return {
    update(done, total, label) {
      if (done === last) return;
      last = done;
      log(`${title}: ${done}/${total}${done < total ? ` (next: ${label})` : ''}`);
    },
    stop() {},
  };
}
