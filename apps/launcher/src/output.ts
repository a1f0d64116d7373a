/** Prefixed, coloured log lines for the launcher and its children. */

const COLOURS = [36, 35, 33, 32, 34, 31] as const;

export function colourFor(index: number): number {
  return COLOURS[index % COLOURS.length];
}

/** `name` padded to `width`, in ANSI colour when `colour` is set, followed by ' │ '. */
export function formatPrefix(name: string, width: number, colour: number | null): string {
  const label = name.padEnd(width);
  return colour === null ? `${label} │ ` : `\u001b[${colour}m${label}\u001b[0m │ `;
}

/**
 * Splits a byte stream into lines and writes each with `prefix`. A trailing partial line is kept until the
 * next chunk or `flush()`.
 */
export function createLinePrefixer(prefix: string, write: (text: string) => void) {
  let pending = '';
  return {
    push(chunk: string): void {
      const text = pending + chunk;
      const lines = text.split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) write(`${prefix}${line}\n`);
    },
    flush(): void {
      if (pending !== '') write(`${prefix}${pending}\n`);
      pending = '';
    },
  };
}

/** Whether to colour output: a TTY and no NO_COLOR, or FORCE_COLOR set (not 0). */
export function useColour(isTty: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0';
  if (env.NO_COLOR !== undefined) return false;
  return isTty;
}
