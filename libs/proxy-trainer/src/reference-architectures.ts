/**
 * Named proxy-28 architectures used by tests and the benchmark (compact strings, stages separated by '/').
 */

/** Light: one block per stage where the shape changes, skips elsewhere (tests: seconds per run). */
export const LIGHT_ARCHITECTURE =
  'skip/ir_k3_e1-skip-skip-skip/ir_k3_e3-skip-skip-skip/ir_k5_e1_g2-skip-skip-skip/shuffle_k3-skip-skip-skip/ir_k3_e3-skip-skip-skip/ir_k3_e1';

/**
 * Reference for throughput and accuracy figures: a mid-size FBNet-style mix of every block family
 * (expansion 1/3/6, kernels 3/5, grouped, shuffle, skips).
 */
export const REFERENCE_ARCHITECTURE =
  'ir_k3_e1/ir_k3_e3-ir_k3_e1-skip-ir_k5_e1_g2/ir_k5_e6-ir_k3_e3-skip-shuffle_k3/ir_k3_e6-ir_k5_e3-ir_k3_e1_g2-skip/ir_k5_e3-ir_k3_e3-shuffle_k5-skip/ir_k5_e6-ir_k3_e3-ir_k5_e1-skip/ir_k3_e6';
