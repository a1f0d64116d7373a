import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend';
import { COMPARED_BACKENDS } from './backends.fixture';
import { ADAM_UPDATE, OptimizerOptions, createOptimizer } from './optimizer';

/** Runs `steps` optimizer steps on `backend` from fixed weights and gradients; returns the final weights. */
async function optimise(backend: string, opts: OptimizerOptions, steps: number): Promise<number[][]> {
  await tf.setBackend(backend);
  const w = tf.variable(
    tf.tensor2d([0.5, -1, 2, 0.25, -0.75, 1.5], [2, 3]),
    true,
    `w-${backend}-${opts.kind}`,
  );
  const b = tf.variable(tf.tensor1d([0.1, -0.2, 0.3]), true, `b-${backend}-${opts.kind}`);
  const optimizer = createOptimizer([w, b], opts);
  for (let t = 0; t < steps; t++) {
    tf.tidy(() => {
      // Gradients that change sign and scale from step to step.
      const gw = tf.mul(tf.tensor2d([1, -2, 0.5, 3, -0.1, 0.7], [2, 3]), Math.cos(t + 1));
      const gb = tf.mul(tf.tensor1d([-0.3, 0.2, 1]), t + 1);
      optimizer.step({ [w.name]: gw, [b.name]: gb }, 0.01);
    });
  }
  const out = [Array.from(w.dataSync()), Array.from(b.dataSync())];
  optimizer.dispose();
  tf.dispose([w, b]);
  return out;
}

function expectClose(actual: number[][], expected: number[][], tolerance: number): void {
  actual.forEach((row, i) =>
    row.forEach((v, j) => expect(Math.abs(v - expected[i][j])).toBeLessThanOrEqual(tolerance)),
  );
}

describe('createOptimizer', () => {
  beforeAll(async () => {
    for (const backend of COMPARED_BACKENDS) expect((await selectBackend(backend)).name).toBe(backend);
  });

  it('the fused Adam kernel is registered for wasm only', () => {
    expect(tf.getKernel(ADAM_UPDATE, 'wasm')).toBeDefined();
    expect(tf.getKernel(ADAM_UPDATE, 'cpu')).toBeUndefined();
  });

  it("Adam's first step moves every weight by the learning rate against its gradient's sign, plus decoupled decay", async () => {
    // t = 1: m̂ = g and ŝ = g², so the step is lr·g/(|g| + ε) ≈ lr·sign(g); decay lr·wd·w on the rank-2 variable only.
    for (const backend of ['cpu', ...COMPARED_BACKENDS]) {
      const [w, b] = await optimise(backend, { kind: 'adam', weightDecay: 0.1 }, 1);
      const g = Math.cos(1);
      const w0 = [0.5, -1, 2, 0.25, -0.75, 1.5];
      const gw = [1, -2, 0.5, 3, -0.1, 0.7].map((x) => x * g);
      expectClose([w], [w0.map((x, i) => x - 0.01 * Math.sign(gw[i]) - 0.01 * 0.1 * x)], 1e-6);
      expectClose([b], [[0.1 + 0.01, -0.2 - 0.01, 0.3 - 0.01]], 1e-6);
    }
  });

  it('the fused Adam kernel on wasm follows the op-by-op update on cpu over 20 steps (with weight decay)', async () => {
    const expected = await optimise('cpu', { kind: 'adam', weightDecay: 0.05 }, 20);
    const actual = await optimise('wasm', { kind: 'adam', weightDecay: 0.05 }, 20);
    expectClose(actual, expected, 1e-5);
    // The comparison can fail: one fewer step is far off.
    const shorter = await optimise('wasm', { kind: 'adam', weightDecay: 0.05 }, 19);
    expect(Math.max(...shorter[0].map((v, i) => Math.abs(v - expected[0][i])))).toBeGreaterThan(1e-4);
  });

  it.each(['cpu', ...COMPARED_BACKENDS])(
    'flat Adam (all variables as one vector) on %s follows the per-variable update on cpu over 20 steps',
    async (backend) => {
      const expected = await optimise('cpu', { kind: 'adam', weightDecay: 0.05, flatAdam: false }, 20);
      const actual = await optimise(backend, { kind: 'adam', weightDecay: 0.05, flatAdam: true }, 20);
      expectClose(actual, expected, 1e-5);
      const shorter = await optimise(backend, { kind: 'adam', weightDecay: 0.05, flatAdam: true }, 19);
      expect(Math.max(...shorter[0].map((v, i) => Math.abs(v - expected[0][i])))).toBeGreaterThan(1e-4);
    },
  );

  it('SGD with momentum: v ← μ·v + g, w ← w − lr·v', async () => {
    const [w] = await optimise('wasm', { kind: 'sgd', momentum: 0.9 }, 2);
    const g1 = [1, -2, 0.5, 3, -0.1, 0.7].map((x) => x * Math.cos(1));
    const g2 = [1, -2, 0.5, 3, -0.1, 0.7].map((x) => x * Math.cos(2));
    const w0 = [0.5, -1, 2, 0.25, -0.75, 1.5];
    expectClose([w], [w0.map((x, i) => x - 0.01 * g1[i] - 0.01 * (0.9 * g1[i] + g2[i]))], 1e-6);
  });
});
