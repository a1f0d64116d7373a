/**
 * Entry point of a short-lived child that selects the training backend as a training process would (same
 * environment, `auto`), reports the selection over IPC and exits: how a launcher learns which backend
 * trainings will use without loading TensorFlow into its own process.
 */
import { selectBackend } from './backend';
import type { ProbeMessage } from './child-messages';

function send(message: ProbeMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

selectBackend('auto')
  .then((selection) => send({ type: 'backend', selection }))
  .catch((err: unknown) =>
    send({ type: 'backend-error', message: err instanceof Error ? err.message : String(err) }),
  )
  .finally(() => process.exit(0));
