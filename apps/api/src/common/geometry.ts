import { GeometryError, InputShape, MacroConfig, parseInputShape, resolveSpace } from '@edgenas/search-space';
import { badRequest } from './api-error';

/** The search-space geometry functions, with their `GeometryError`s turned into a 400 naming the field. */
function orBadRequest<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof GeometryError) throw badRequest(err.field, err.reason);
    throw err;
  }
}

/** The deployment geometry for a space (+ optional input/classes); 400 naming the field when unknown or insane. */
export function resolveSpaceOrBadRequest(
  space: string,
  input: InputShape | undefined,
  classes: number | undefined,
  spaceField = 'space',
): MacroConfig {
  return orBadRequest(() => resolveSpace(space, { input, classes }, spaceField));
}

/** `HxWxC` query text → shape; 400 naming `field` when malformed or out of the limits. */
export function parseInputShapeOrBadRequest(text: string, field: string): InputShape {
  return orBadRequest(() => parseInputShape(text, field));
}
