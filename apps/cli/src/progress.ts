import { MultiBar, Presets, SingleBar } from 'cli-progress';

/** Bars on a terminal; on a pipe or log, one plain line whenever the text changes. */
export interface BarSet {
  /** Sets bar `name` (created on first use) to value/total with a trailing label. */
  update(name: string, value: number, total: number, label?: string): void;
  stop(): void;
}

export function createBars(stream: NodeJS.WriteStream, log: (line: string) => void): BarSet {
  if (stream.isTTY) {
    const multi = new MultiBar(
      {
        format: '{name} [{bar}] {value}/{total} {label}',
        hideCursor: true,
        stream,
        clearOnComplete: false,
        autopadding: true,
      },
      Presets.shades_classic,
    );
    const bars = new Map<string, SingleBar>();
    return {
      update(name, value, total, label = '') {
        const bar = bars.get(name);
        if (!bar) bars.set(name, multi.create(Math.max(total, 1), value, { name: name.padEnd(12), label }));
        else {
          bar.setTotal(Math.max(total, 1));
          bar.update(value, { label });
        }
      },
      stop: () => multi.stop(),
    };
  }
  const last = new Map<string, string>();
  return {
    update(name, value, total, label = '') {
      const line = `${name} ${value}/${total}${label ? ` ${label}` : ''}`;
      if (last.get(name) === line) return;
      last.set(name, line);
      log(line);
    },
    stop() {},
  };
}
