/**
 * Which path a supernet trains at each step. Every choice is a pure function of (seed, step), so a training
 * resumed from a checkpoint at step t continues with exactly the paths it would have taken.
 *
 * - `uniform` (SPOS): each layer's block uniform over its choices, independently per step.
 * - `fair` (FairNAS-style): steps come in groups of L (the largest number of choices of any layer); within a
 *   group every layer takes each of its choices once, in a seeded random order (layers with fewer choices
 *   repeat some), so no block falls behind in updates.
 * - `sandwich`: the widest path (the largest ir block everywhere) then one uniform path, both every step; the
 *   uniform path learns from the widest path's softened outputs (in-place distillation).
 */
import type { SupernetSampling } from '@edgenas/contracts';
import { Architecture, BlockType } from '@edgenas/search-space';
import { createRandom, mixSeed, shuffledIndices } from '../random';

export { mixSeed };

export type { SupernetSampling };

/** One optimisation pass of a step: a path and whether it learns from the widest path's outputs. */
export interface SampledPath {
  readonly architecture: Architecture;
  /** Distil from the teacher path trained just before it in the same step. */
  readonly distil: boolean;
  /** This path's outputs are the teacher of the paths after it in the step. */
  readonly teacher: boolean;
}

const UNIFORM_STREAM = 1;
const FAIR_STREAM = 2;

function uniformPath(choices: readonly BlockType[][], seed: number, step: number): Architecture {
  const random = createRandom(mixSeed(seed, UNIFORM_STREAM, step));
  return { blocks: choices.map((cs) => cs[random.int(cs.length)]) };
}

/** The widest path: each layer's most expensive ir block (`ir_k5_e6` wherever it fits). */
export function widestPath(choices: readonly BlockType[][]): Architecture {
  const rank = (b: BlockType) => ['ir_k5_e6', 'ir_k3_e6', 'ir_k5_e3', 'ir_k3_e3'].indexOf(b);
  return {
    blocks: choices.map((cs) => {
      const ranked = cs.filter((b) => rank(b) >= 0).sort((a, b) => rank(a) - rank(b));
      return ranked[0] ?? cs[0];
    }),
  };
}

/** The passes of step `step` (0-based). */
export function pathsForStep(
  sampling: SupernetSampling,
  choices: readonly BlockType[][],
  seed: number,
  step: number,
): SampledPath[] {
  switch (sampling) {
    case 'uniform':
      return [{ architecture: uniformPath(choices, seed, step), distil: false, teacher: false }];
    case 'fair': {
      const group = Math.max(...choices.map((cs) => cs.length));
      const round = Math.floor(step / group);
      const position = step % group;
      const blocks = choices.map((cs, layer) => {
        const order = shuffledIndices(group, createRandom(mixSeed(seed, FAIR_STREAM, round, layer)));
        return cs[order[position] % cs.length];
      });
      return [{ architecture: { blocks }, distil: false, teacher: false }];
    }
    case 'sandwich':
      return [
        { architecture: widestPath(choices), distil: false, teacher: true },
        { architecture: uniformPath(choices, seed, step), distil: true, teacher: false },
      ];
  }
}
