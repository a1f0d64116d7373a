import { ValidationOptions, registerDecorator } from 'class-validator';

/** How far ahead of the server's clock a client's timestamp may be (clock skew), in minutes. */
export const MAX_CLOCK_SKEW_MINUTES = 5;

/**
 * A timestamp no more than MAX_CLOCK_SKEW_MINUTES ahead of now: a measurement cannot come from the future, and
 * a clock far off would order rows (drift references, calibration freshness) wrongly. Unparseable values are
 * left to the format check.
 */
export function NotInFuture(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'notInFuture',
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string') return true;
          const t = Date.parse(value);
          return Number.isNaN(t) || t <= Date.now() + MAX_CLOCK_SKEW_MINUTES * 60_000;
        },
        defaultMessage(args) {
          return (
            `${args?.property ?? 'timestamp'} lies more than ${MAX_CLOCK_SKEW_MINUTES} minutes in the future ` +
            `(server time ${new Date().toISOString()}); check the device's clock`
          );
        },
      },
    });
}
