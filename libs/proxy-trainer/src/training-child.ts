/**
 * Entry point of a forked training process: receives one job message (proxy training, supernet training or
 * subnet scoring), runs it, streams progress and the result (or the error) back over IPC, then exits.
 */
import type { ChildMessage, JobMessage } from './child-messages';
import { scoreSubnets } from './supernet/score-subnets';
import { trainSupernet } from './supernet/train-supernet';
import { trainProxy } from './train';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function run(message: JobMessage): Promise<ChildMessage> {
  switch (message.type) {
    case 'train':
      return trainProxy(message.request, {
        ...message.options,
        onProgress: (progress) => void send({ type: 'progress', progress }),
        onCheckpoint: (checkpoint) => void send({ type: 'checkpoint', checkpoint }),
        onResumeRefused: (reason) => void send({ type: 'resume-refused', reason }),
      }).then((result) => ({ type: 'result', result }));
    case 'train-supernet':
      return trainSupernet(message.request, {
        ...message.options,
        onProgress: (progress) => void send({ type: 'supernet-progress', progress }),
        onCheckpoint: (checkpoint) => void send({ type: 'checkpoint', checkpoint }),
        onResumeRefused: (reason) => void send({ type: 'resume-refused', reason }),
      }).then((result) => ({ type: 'result', result }));
    case 'score-subnets':
      return scoreSubnets(message.request, {
        onProgress: (done, total) => void send({ type: 'scoring-progress', done, total }),
      }).then((result) => ({ type: 'result', result }));
    default:
      return Promise.reject(new Error(`training child: unknown job message ${JSON.stringify(message)}`));
  }
}

process.once('message', (message: JobMessage) => {
  run(message)
    .then((reply) => send(reply))
    .catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      return send({ type: 'error', error: { name: e.name, message: e.message, stack: e.stack } });
    })
    .finally(() => process.exit(0));
});

// The parent went away: nothing left to report to.
process.on('disconnect', () => process.exit(0));
