import * as tf from '@tensorflow/tfjs-core';

/** SGD with momentum or Adam over a fixed variable list, with a per-step learning rate (for schedules). */
export interface Optimizer {
  step(grads: Readonly<Record<string, tf.Tensor>>, learningRate: number): void;
  /** Steps taken (including those of the state it started from) and every slot, in variable order. */
  exportState(): OptimizerState;
  dispose(): void;
}

/**
 * Optimizer slots in the variables' own (tfjs) layouts: `m` is Adam's first moment or SGD's momentum, `s`
 * Adam's second moment. Lets a caller keep the state of variables that are rebuilt between steps (a supernet
 * path's weights live in a bank, not in long-lived variables).
 */
export interface OptimizerState {
  readonly step: number;
  readonly slots: readonly { readonly m: Float32Array; readonly s?: Float32Array }[];
}

export interface OptimizerOptions {
  readonly kind: 'adam' | 'sgd';
  /**
   * Adam over all variables as one flat vector (concatenate the gradients, ~10 ops, split the update): ~3 ops
   * per variable instead of ~14, for backends where each op has a fixed dispatch cost (tfjs-node). Default:
   * on for the `tensorflow` backend.
   */
  readonly flatAdam?: boolean;
  readonly momentum?: number;
  /** Decoupled weight decay (AdamW / SGDW style) on variables of rank ≥ 2. */
  readonly weightDecay?: number;
}

/**
 * Kernel a backend may register for one Adam step of one variable: inputs { variable, gradient, m, s }, attrs
 * `AdamUpdateAttrs` → [variable, m, s] updated. Where the active backend has it, the optimizer calls it instead
 * of its op-by-op update (the same formulas).
 */
export const ADAM_UPDATE = 'EdgeNasAdamUpdate';

export interface AdamUpdateAttrs {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly learningRate: number;
  /** 1-based step count, for the bias corrections. */
  readonly step: number;
  /** Decoupled weight decay of this variable (0 when it does not decay). */
  readonly weightDecay: number;
}

/**
 * Kernel a backend may register for one flat Adam step over a whole variable list: inputs v0…v(n−1) (the
 * variables), g0…g(n−1) (their gradients), m and s (flat moments), optionally decayMask (1 where a variable
 * decays); attrs `FlatAdamAttrs` → [v0′ … v(n−1)′, m′, s′]. The flat path runs it where the backend has it.
 */
export const FLAT_ADAM_UPDATE = 'EdgeNasFlatAdamUpdate';

export interface FlatAdamAttrs extends Omit<AdamUpdateAttrs, 'weightDecay'> {
  readonly count: number;
  /** Decoupled weight decay where decayMask is 1. */
  readonly weightDecay: number;
}

export function createOptimizer(
  variables: readonly tf.Variable[],
  opts: OptimizerOptions,
  initial?: OptimizerState,
): Optimizer {
  if (initial && initial.slots.length !== variables.length) {
    throw new Error(`optimizer state has ${initial.slots.length} slots for ${variables.length} variables`);
  }
  // tf.variable keeps its own reference to the initial data: the zeros tensor itself is released.
  const slot = (v: tf.Variable, data: Float32Array | undefined) =>
    tf.tidy(() => tf.variable(data ? tf.tensor(data, v.shape, 'float32') : tf.zerosLike(v), false));
  const slots = variables.map((v, i) => ({
    v,
    m: slot(v, initial?.slots[i].m),
    s: opts.kind === 'adam' ? slot(v, initial?.slots[i].s) : undefined,
    decays: v.rank >= 2,
  }));
  const [beta1, beta2, epsilon] = [0.9, 0.999, 1e-7];
  const momentum = opts.momentum ?? 0.9;
  const weightDecay = opts.weightDecay ?? 0;
  let t = initial?.step ?? 0;
  let flat: { m: tf.Variable; s: tf.Variable; decayMask?: tf.Tensor } | undefined;
  const sizes = variables.map((v) => v.size);

  /** One Adam step over the concatenation of every variable (same formulas as the per-variable path). */
  function flatAdamStep(grads: Readonly<Record<string, tf.Tensor>>, learningRate: number) {
    if (!flat) {
      const total = sizes.reduce((a, b) => a + b, 0);
      const mask =
        weightDecay > 0
          ? tf.concat(slots.map(({ v, decays }) => tf.fill([v.size], decays ? 1 : 0)))
          : undefined;
      // A state handed in (rebuilt variables) starts the flat moments, concatenated in variable order.
      const start = (which: 'm' | 's') =>
        initial
          ? tf.tensor1d(Float32Array.from(initial.slots.flatMap((slot) => Array.from(slot[which] ?? []))))
          : tf.zeros([total]);
      flat = {
        m: tf.variable(start('m'), false),
        s: tf.variable(start('s'), false),
        decayMask: mask ? tf.keep(mask) : undefined,
      };
    }
    const { m, s, decayMask } = flat;
    if (tf.getKernel(FLAT_ADAM_UPDATE, tf.getBackend())) {
      const inputs: Record<string, tf.Tensor> = { m, s };
      variables.forEach((v, i) => {
        inputs[`v${i}`] = v;
        inputs[`g${i}`] = grads[v.name];
      });
      if (decayMask) inputs.decayMask = decayMask;
      const attrs: FlatAdamAttrs = {
        beta1,
        beta2,
        epsilon,
        learningRate,
        step: t,
        weightDecay,
        count: variables.length,
      };
      const out = tf
        .engine()
        .runKernel(FLAT_ADAM_UPDATE, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      variables.forEach((v, i) => v.assign(out[i]));
      m.assign(out[variables.length]);
      s.assign(out[variables.length + 1]);
      tf.dispose(out);
      return;
    }
    tf.tidy(() => {
      const g = tf.concat(variables.map((v) => tf.reshape(grads[v.name], [-1])));
      m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
      s.assign(tf.add(tf.mul(s, beta2), tf.mul(tf.square(g), 1 - beta2)));
      let update = tf.div(
        tf.mul(m, learningRate / (1 - beta1 ** t)),
        tf.add(tf.sqrt(tf.mul(s, 1 / (1 - beta2 ** t))), epsilon),
      );
      if (decayMask) {
        const values = tf.concat(variables.map((v) => tf.reshape(v, [-1])));
        update = tf.add(update, tf.mul(tf.mul(values, decayMask), learningRate * weightDecay));
      }
      tf.split(update, sizes).forEach((u, i) => {
        const v = variables[i];
        v.assign(tf.sub(v, tf.reshape(u, v.shape)));
      });
    });
  }

  return {
    step(grads, learningRate) {
      t++;
      const fusedAdam = opts.kind === 'adam' && tf.getKernel(ADAM_UPDATE, tf.getBackend()) !== undefined;
      const flatAdam =
        opts.kind === 'adam' &&
        !fusedAdam &&
        (opts.flatAdam ?? tf.getBackend() === 'tensorflow') &&
        variables.length > 0 &&
        variables.every((v) => grads[v.name] !== undefined);
      if (flatAdam) return flatAdamStep(grads, learningRate);
      tf.tidy(() => {
        for (const { v, m, s, decays } of slots) {
          const g = grads[v.name];
          if (!g) continue;
          if (fusedAdam && s) {
            const attrs: AdamUpdateAttrs = {
              beta1,
              beta2,
              epsilon,
              learningRate,
              step: t,
              weightDecay: decays ? weightDecay : 0,
            };
            const [v1, m1, s1] = tf
              .engine()
              .runKernel(
                ADAM_UPDATE,
                { variable: v, gradient: g, m, s },
                attrs as unknown as tf.NamedAttrMap,
              ) as tf.Tensor[];
            v.assign(v1);
            m.assign(m1);
            s.assign(s1);
            continue;
          }
          let update: tf.Tensor;
          if (s) {
            m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
            s.assign(tf.add(tf.mul(s, beta2), tf.mul(tf.square(g), 1 - beta2)));
            const mHat = tf.div(m, 1 - beta1 ** t);
            const sHat = tf.div(s, 1 - beta2 ** t);
            update = tf.mul(tf.div(mHat, tf.add(tf.sqrt(sHat), epsilon)), learningRate);
          } else {
            m.assign(tf.add(tf.mul(m, momentum), g));
            update = tf.mul(m, learningRate);
          }
          if (decays && weightDecay > 0) update = tf.add(update, tf.mul(v, learningRate * weightDecay));
          v.assign(tf.sub(v, update));
        }
      });
    },
    exportState() {
      if (flat) {
        const m = flat.m.dataSync() as Float32Array;
        const s = flat.s.dataSync() as Float32Array;
        let offset = 0;
        return {
          step: t,
          slots: sizes.map((n) => {
            const slot = { m: m.slice(offset, offset + n), s: s.slice(offset, offset + n) };
            offset += n;
            return slot;
          }),
        };
      }
      return {
        step: t,
        slots: slots.map(({ m, s }) => ({
          m: m.dataSync() as Float32Array,
          s: s ? (s.dataSync() as Float32Array) : undefined,
        })),
      };
    },
    dispose() {
      if (flat) tf.dispose([flat.m, flat.s, ...(flat.decayMask ? [flat.decayMask] : [])]);
      for (const { m, s } of slots) {
        m.dispose();
        s?.dispose();
      }
    },
  };
}

/** Cosine decay from `peak` to 0 over `total` steps, after a linear warm-up of `warmup` steps. */
export function cosineLearningRate(step: number, total: number, peak: number, warmup = 0): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return 0.5 * peak * (1 + Math.cos(Math.PI * progress));
}
