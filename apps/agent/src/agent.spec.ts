import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28, signatureKey, withGeometry } from '@edgenas/search-space';
import { DEFAULT_BENCHMARK_OPTIONS, describeDevice } from '@edgenas/device-benchmark';
import { groupBySpace, runLoop } from './agent';
import { AgentStore } from './store';

describe('groupBySpace', () => {
  const small = withGeometry(PROXY_28, { input: { height: 16, width: 16, channels: 1 }, classes: 4 });
  const proxy = spaceSignatures(PROXY_28);
  const other = spaceSignatures(small);

  it("groups missing signatures by the agent's spaces in order, the rest (job geometries) last", () => {
    const missing = [...other.slice(0, 3), ...proxy.slice(0, 5)];
    const groups = groupBySpace(missing, [PROXY_28]);
    expect(groups.map((g) => g.map(signatureKey))).toEqual([
      proxy.slice(0, 5).map(signatureKey),
      other.slice(0, 3).map(signatureKey),
    ]);
    expect(groupBySpace(missing, [small, PROXY_28]).map((g) => g.length)).toEqual([3, 5]);
  });

  it('has no empty groups', () => {
    expect(groupBySpace([], [PROXY_28])).toEqual([]);
  });
});

describe('runLoop', () => {
  let dir: string;
  let store: AgentStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-agent-loop-'));
    store = AgentStore.open(dir);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no abort listener behind from pass to pass (they would pile up on the long-lived signal)', async () => {
    const stop = new AbortController();
    const listenersAtPass: number[] = [];
    // Offline (nothing listens on port 1) with no space to measure: each pass is quick, and the loop is the
    // agent's real one.
    await runLoop(
      {
        store,
        profile: describeDevice('loop-test', 1),
        apiUrl: 'http://127.0.0.1:1',
        apiKey: 'unused',
        spaces: [],
        benchmark: DEFAULT_BENCHMARK_OPTIONS,
        retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
        log: (line) => {
          if (!line.startsWith('offline:')) return;
          listenersAtPass.push(getEventListeners(stop.signal, 'abort').length);
          if (listenersAtPass.length === 15) stop.abort();
        },
      },
      1,
      stop.signal,
    );
    expect(listenersAtPass).toEqual(Array(15).fill(0));
  });
});
