/**
 * Every error nnmax throws on purpose. Each has a stable `code`, structured fields, and a
 * self-contained one-line message: `<file>: node '<name>' (<opType>): <problem>. <what to do>`.
 */
export abstract class NnmaxError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bytes are not a readable ONNX model (missing, empty, truncated, not protobuf, ...). */
export class OnnxDecodeError extends NnmaxError {
  readonly code = 'ONNX_DECODE';
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
  }
}

export interface UnsupportedNode {
  readonly node: string;
  readonly opType: string;
  readonly reason: string;
}

/** One or more nodes are outside the IR: gradients and bounds are unavailable for this model. */
export class UnsupportedOpError extends NnmaxError {
  readonly code = 'UNSUPPORTED_OP';
  readonly node: string;
  readonly opType: string;
  readonly reason: string;
  constructor(
    readonly file: string,
    readonly nodes: readonly UnsupportedNode[],
    readonly whatStillWorks = 'black-box search still runs',
  ) {
    const shown = nodes.slice(0, 10).map((n) => `node '${n.node}' (${n.opType}): ${n.reason}`);
    const more = nodes.length > 10 ? ` (and ${nodes.length - 10} more)` : '';
    super(`${file}: ${shown.join('; ')}${more}. Not supported for gradients or bounds; ${whatStillWorks}`);
    this.node = nodes[0]?.node ?? '';
    this.opType = nodes[0]?.opType ?? '';
    this.reason = nodes[0]?.reason ?? '';
  }
}

/** A tensor or a user-supplied array has the wrong shape or length. */
export class ShapeError extends NnmaxError {
  readonly code = 'SHAPE';
  constructor(
    readonly node: string,
    readonly expected: string,
    readonly actual: string,
    detail = '',
  ) {
    super(`${node}: expected ${expected}, got ${actual}${detail ? `. ${detail}` : ''}`);
  }
}

/** An option or argument value is out of its domain. */
export class InvalidOptionError extends NnmaxError {
  readonly code = 'INVALID_OPTION';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`invalid ${option} ${formatValue(value)}: expected ${expected}`);
  }
}

/** A VNN-LIB file does not parse or does not fit the model. */
export class VnnlibParseError extends NnmaxError {
  readonly code = 'VNNLIB_PARSE';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${column}: ${problem}`);
  }
}

/** onnxruntime (node or web) failed to create a session or to run one. */
export class RuntimeAdapterError extends NnmaxError {
  readonly code = 'RUNTIME';
  constructor(
    readonly backend: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`onnxruntime (${backend}): ${problem}`, options);
  }
}

/** `tell` was called with points other than those of the last `ask`. */
export class OptimizerProtocolError extends NnmaxError {
  readonly code = 'OPTIMIZER_PROTOCOL';
}

/** A broken internal invariant: a bug in nnmax, never a user error. */
export class InternalError extends NnmaxError {
  readonly code = 'INTERNAL';
}

export function invariant(condition: unknown, message: () => string): asserts condition {
  if (!condition) throw new InternalError(message());
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(value);
  }
}
