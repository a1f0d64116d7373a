import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend';
import { COMPARED_BACKENDS } from './backends.fixture';
import { distillationLoss } from './train';

/** Worked by hand (plain arithmetic, no tfjs): two images, three classes, T = 2, α = 0.3. */
const STUDENT = [
  [2, 1, 0],
  [0, 1, 3],
];
const TEACHER = [
  [1, 3, 0],
  [0, 0, 4],
];
const LABELS = [0, 2];

function softmax(v: readonly number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

function byHand(temperature: number, weight: number): { ce: number[]; kl: number[]; loss: number } {
  const ce = STUDENT.map((s, i) => -Math.log(softmax(s)[LABELS[i]]));
  const kl = STUDENT.map((s, i) => {
    const p = softmax(TEACHER[i].map((x) => x / temperature));
    const q = softmax(s.map((x) => x / temperature));
    return p.reduce((sum, pi, k) => sum + pi * Math.log(pi / q[k]), 0);
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { ce, kl, loss: (1 - weight) * mean(ce) + weight * temperature ** 2 * mean(kl) };
}

function lossOf(student: number[][], teacher: number[][], temperature: number, weight: number): number {
  return tf.tidy(
    () =>
      distillationLoss(
        tf.oneHot(tf.tensor1d(LABELS, 'int32'), 3) as tf.Tensor2D,
        tf.tensor2d(student),
        tf.tensor2d(teacher),
        temperature,
        weight,
      ).dataSync()[0],
  );
}

// On each training backend present here (tfjs-node's tensorflow when its binding loads, and wasm).
describe.each(COMPARED_BACKENDS)('distillationLoss on %s', (backend) => {
  beforeAll(async () => {
    expect((await selectBackend(backend)).name).toBe(backend);
  });

  it('is (1 − α)·CE + α·T²·KL(teacher_T ‖ student_T), each averaged over the batch, as computed by hand', () => {
    const hand = byHand(2, 0.3);
    // The worked numbers: CE 0.4076 and 0.1698, KL 0.2288 and 0.0651 → 0.7·0.2887 + 0.3·4·0.1469 = 0.3784.
    expect(hand.ce[0]).toBeCloseTo(0.40761, 4);
    expect(hand.kl[1]).toBeCloseTo(0.06506, 4);
    expect(hand.loss).toBeCloseTo(0.378439, 5);
    expect(lossOf(STUDENT, TEACHER, 2, 0.3)).toBeCloseTo(hand.loss, 5);
  });

  it('is plain cross-entropy at α = 0, and only the scaled KL at α = 1 (0 when the student matches the teacher)', () => {
    expect(lossOf(STUDENT, TEACHER, 2, 0)).toBeCloseTo((byHand(2, 0).ce[0] + byHand(2, 0).ce[1]) / 2, 5);
    expect(lossOf(STUDENT, TEACHER, 3, 1)).toBeCloseTo(byHand(3, 1).loss, 5);
    expect(lossOf(TEACHER, TEACHER, 3, 1)).toBeCloseTo(0, 6);
  });

  it('pulls the student towards the teacher: its gradient is T·α·(q − p) per image on the soft term', () => {
    const T = 2;
    const grad = tf.tidy(() => {
      const teacher = tf.tensor2d(TEACHER);
      const labels = tf.oneHot(tf.tensor1d(LABELS, 'int32'), 3) as tf.Tensor2D;
      const g = tf.grad((s: tf.Tensor) => distillationLoss(labels, s as tf.Tensor2D, teacher, T, 1));
      return g(tf.tensor2d(STUDENT)).arraySync() as number[][];
    });
    // d/ds of T²·mean_i KL_i = T²·(1/N)·(q − p)/T = T·(q − p)/N for N = 2 images.
    STUDENT.forEach((s, i) => {
      const p = softmax(TEACHER[i].map((x) => x / T));
      const q = softmax(s.map((x) => x / T));
      q.forEach((qk, k) => expect(grad[i][k]).toBeCloseTo((T * (qk - p[k])) / 2, 5));
    });
  });
});
