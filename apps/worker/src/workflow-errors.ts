import { ApplicationFailure } from '@temporalio/workflow';

/** The message a failed job or final model reports: an activity's own reason rather than Temporal's wrapper. */
export function failureMessage(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.message;
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}
