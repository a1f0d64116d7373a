/** Bad input to the quantizer or the evaluator (an app answers it with a 4xx naming `field`). */
export class QuantizationInputError extends Error {
  override name = 'QuantizationInputError';

  constructor(
    /** The argument or option at fault, e.g. 'calibration', 'labels', 'opts.percentile', 'model'. */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
