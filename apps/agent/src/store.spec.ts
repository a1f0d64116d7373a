import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockMeasurement } from '@edgenas/latency-predictor';
import { PROXY_28, signatureKey, stemSignature } from '@edgenas/search-space';
import { AgentStore } from './store';

function row(): BlockMeasurement {
  return {
    id: randomUUID(),
    signature: stemSignature(PROXY_28),
    estimateMs: 0.1,
    medianMs: 0.11,
    p10Ms: 0.1,
    p90Ms: 0.13,
    rounds: 3,
    repeatsPerRound: 10,
    warmupRuns: 2,
    overheadMs: 0.02,
    agentVersion: 'test',
    measuredAt: new Date().toISOString(),
    driftFlagged: false,
  };
}

describe('AgentStore (real SQLite file)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-agent-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('queues by id once, hands out pending rows oldest first, and survives reopening', () => {
    const a = row();
    const b = row();
    let store = AgentStore.open(dir);
    expect(store.add([{ kind: 'block', body: a }])).toBe(1);
    expect(
      store.add([
        { kind: 'block', body: a },
        { kind: 'block', body: b },
      ]),
    ).toBe(1);
    expect(store.pending(10).map((m) => m.body.id)).toEqual([a.id, b.id]);
    store.markSynced([a.id]);
    store.close();

    store = AgentStore.open(dir);
    expect(store.counts()).toEqual({ pending: 1, synced: 1, rejected: 0 });
    expect(store.pending(10).map((m) => m.body.id)).toEqual([b.id]);
    store.markAttemptFailed([b.id], 'down');
    expect(store.counts().pending).toBe(1);
    expect(store.lastError()).toBe('down');
    store.markRejected([b.id], 'HTTP 400');
    expect(store.counts()).toEqual({ pending: 0, synced: 1, rejected: 1 });
    expect(store.measuredSignatureKeys()).toEqual(new Set([signatureKey(a.signature)]));
    store.close();
  });
});
