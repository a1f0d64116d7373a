import { Type } from 'class-transformer';
import { IsObject, IsOptional, ValidateNested } from 'class-validator';

type DtoClass = new () => object;

function nested(type: () => DtoClass, what: string, each: boolean): PropertyDecorator {
  return (target, key) => {
    // an array passes ValidateNested (its items are validated instead) and null/scalars say little: refuse
    // anything but a plain object first, naming the field
    IsObject({
      each,
      message: ({ property }) => `${property} must be ${each ? 'a list of objects' : 'an object'} (${what})`,
    })(target, key);
    ValidateNested({ each })(target, key);
    Type(type)(target, key);
  };
}

/** A required nested object, validated as `type`; `what` tells the client what it holds. */
export function NestedObject(type: () => DtoClass, what: string): PropertyDecorator {
  return nested(type, what, false);
}

/** An optional nested object (absent or null: left to the defaults), validated as `type` when given. */
export function OptionalNestedObject(type: () => DtoClass, what: string): PropertyDecorator {
  return (target, key) => {
    IsOptional()(target, key);
    nested(type, what, false)(target, key);
  };
}

/** Each element of an array property must be an object, validated as `type`. */
export function NestedObjects(type: () => DtoClass, what: string): PropertyDecorator {
  return nested(type, what, true);
}
