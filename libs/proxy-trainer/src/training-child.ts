/**
 * Entry point of the forked training process: receives one `train` message, runs `trainProxy`, streams
 * progress and the result (or the error) back over IPC, then exits.
 */
import type { ChildMessage, TrainMessage } from './child-messages';
import { trainProxy } from './train';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

process.once('message', (message: TrainMessage) => {
  if (message?.type !== 'train') {
    void send({
      type: 'error',
      error: { name: 'Error', message: 'training child: expected a "train" message' },
    }).then(() => process.exit(1));
    return;
  }
  trainProxy(message.request, { onProgress: (progress) => void send({ type: 'progress', progress }) })
    .then((result) => send({ type: 'result', result }))
    .catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      return send({ type: 'error', error: { name: e.name, message: e.message, stack: e.stack } });
    })
    .finally(() => process.exit(0));
});

// The parent went away: nothing left to report to.
process.on('disconnect', () => process.exit(0));
