/**
 * Entry of a training child process (see training-process.ts): receives one ProxyTrainingRequest over IPC,
 * trains, reports progress and the result, exits. Exits at once when the parent goes away (worker killed), so
 * no orphaned training burns a core.
 */
import { ProxyTrainingRequest, trainProxy } from '@edgenas/proxy-trainer';
import type { TrainingChildMessage } from './training-process';

function send(msg: TrainingChildMessage): void {
  if (process.connected) process.send?.(msg);
}

/** Exits once the last message is handed to the parent (process.send is asynchronous). */
function sendAndExit(msg: TrainingChildMessage, code: number): void {
  if (!process.connected || !process.send) process.exit(code);
  process.send(msg, () => process.exit(code));
}

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(143));

process.once('message', (request: ProxyTrainingRequest) => {
  trainProxy(request, { onProgress: (progress) => send({ type: 'progress', progress }) }).then(
    (result) => sendAndExit({ type: 'result', result }, 0),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      sendAndExit({ type: 'error', name: e.name, message: e.message }, 1);
    },
  );
});
