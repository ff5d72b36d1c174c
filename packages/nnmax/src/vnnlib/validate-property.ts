import { VnnlibParseError } from '@nnmax/core';
import type { Property } from './property.js';

/**
 * Checks that a property fits a model with `nIn` inputs and `nOut` outputs (flattened). A
 * variable the model does not have is reported at its declaration; a model input or output the
 * property does not declare is reported at the last declaration of that kind.
 */
export function validateProperty(property: Property, nIn: number, nOut: number): void {
  check(property, 'X', 'inputs', property.nIn, nIn, property.declarations.inputs);
  check(property, 'Y', 'outputs', property.nOut, nOut, property.declarations.outputs);
}

function check(
  property: Property,
  prefix: 'X' | 'Y',
  what: string,
  declared: number,
  expected: number,
  at: Property['declarations']['inputs'],
): void {
  if (declared === expected) return;
  if (declared > expected) {
    const loc = at[expected];
    throw new VnnlibParseError(
      property.file,
      loc.line,
      loc.column,
      `${prefix}_${expected} is not a variable of the model: the model has ${expected} ${what} (${prefix}_0..${prefix}_${expected - 1}) but the property declares ${declared}`,
    );
  }
  const loc = at[declared - 1] ?? { line: 1, column: 1 };
  throw new VnnlibParseError(
    property.file,
    loc.line,
    loc.column,
    `the model has ${expected} ${what} but the property declares only ${declared}; ${prefix}_${declared} is missing`,
  );
}
