import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidOptionError, maximize, minimize, parseDomain, parseVnnlib, validateProperty, SEARCH_METHODS, type MaximizeOptions, type SearchMethod } from 'nnmax';
import { loadModel } from 'nnmax/node';
import type { CliIo } from '../cli.js';
import { fmt, fmtList } from '../format.js';
import { parseBox, parseFinite, parseFixed, parseNonNegInt, parsePositive } from '../parse-args.js';
import { ProgressLine } from '../progress.js';

interface MaximizeFlags {
  output?: string;
  objective?: string;
  minimize?: boolean;
  box?: string;
  vnnlib?: string;
  domain?: string;
  fix?: string;
  method: string;
  certify?: boolean;
  timeLimit: string;
  tol: string;
  target?: string;
  seed: string;
  json?: boolean;
}

/** `nnmax maximize` and `nnmax minimize` (DESIGN.md contract). */
export function maximizeCommand(program: Command, io: CliIo, name: 'maximize' | 'minimize'): void {
  program
    .command(name)
    .description(`${name} an objective of the network's outputs over an input domain, optionally with a certified bound`)
    .argument('<model>', 'ONNX file')
    .option('--output <k>', 'objective: output k (y_k)')
    .option('--objective <expr>', 'objective: linear expression over outputs, e.g. "y2 - 0.5*y0" (default y0)')
    .option('--minimize', 'minimise instead of maximise')
    .option('--box <intervals>', 'input box "lo:hi,lo:hi,..." in the flattened input order')
    .option('--vnnlib <file>', "a VNN-LIB property: its input box; without an objective, maximise its margin (>= 0: violated)")
    .option('--domain <file>', 'a JSON domain file: box, fixed inputs, linear rows A x <= b, integer and one-hot inputs')
    .option('--fix <pairs>', 'fixed inputs "i=v,..." (i: an input index, or x<i>)')
    .option('--method <name>', SEARCH_METHODS.join('|'), 'auto')
    .option('--certify', 'also compute a certified bound by branch-and-bound (status optimal once the gap <= tol)')
    .option('--time-limit <seconds>', 'time limit of the search', '10')
    .option('--tol <gap>', 'absolute gap at which a certified search stops', '1e-4')
    .option('--target <value>', 'stop as soon as the incumbent reaches VALUE')
    .option('--seed <n>', 'random seed', '0')
    .option('--json', 'print the result as one JSON object')
    .action(async (file: string, flags: MaximizeFlags) => {
      const options = await parseFlags(flags);
      const isMin = name === 'minimize' || flags.minimize === true;
      const model = await loadModel(file);
      const progress = io.progressStream && !flags.json ? new ProgressLine(io.progressStream, options.certify === true) : undefined;
      try {
        const run = isMin ? minimize : maximize;
        const r = await run(model, {
          ...options,
          objective: flags.output !== undefined ? outputIndex(flags.output, model.nOut) : options.objective,
          vnnlib: options.vnnlib && validated(options.vnnlib, model.nIn, model.nOut),
          domain: flags.domain ? parseDomain(await readText(flags.domain, '--domain'), model.nIn, flags.domain) : undefined,
          signal: io.signal,
          onProgress: progress ? (e) => progress.update(e) : undefined,
        });
        progress?.stop();
        if (flags.json) {
          io.stdout(`${JSON.stringify(r)}\n`);
          return;
        }
        const bound = r.upperBound === null ? 'none (add --certify)' : `${fmt(r.upperBound, 10)} (${r.sense === 'max' ? 'upper' : 'lower'} bound, gap ${fmt(r.gap ?? NaN, 3)})`;
        io.stdout(
          [
            `status       ${r.status}`,
            `${r.sense === 'max' ? 'maximum' : 'minimum'}      ${fmt(r.value, 10)}`,
            `x            ${fmtList(r.x, 8)}`,
            `certified    ${bound}`,
            `evaluations  ${r.evaluations}`,
            `time         ${(r.timeMs / 1000).toFixed(2)} s`,
            `method       ${r.method}`,
          ].join('\n') + '\n',
        );
      } finally {
        progress?.stop();
        await model.dispose();
      }
    });
}

async function parseFlags(flags: MaximizeFlags): Promise<MaximizeOptions & { vnnlib?: ReturnType<typeof parseVnnlib> }> {
  if (flags.output !== undefined && flags.objective !== undefined) {
    throw new InvalidOptionError('--output', flags.output, 'either --output or --objective, not both');
  }
  if (flags.box !== undefined && flags.domain !== undefined) {
    throw new InvalidOptionError('--box', flags.box, 'either --box or --domain (the domain file has its own box)');
  }
  if (!SEARCH_METHODS.includes(flags.method as SearchMethod)) throw new InvalidOptionError('--method', flags.method, SEARCH_METHODS.join(' | '));
  const box = flags.box === undefined ? undefined : parseBox(flags.box);
  return {
    objective: flags.objective,
    box: box && { lo: box.lo, hi: box.hi },
    vnnlib: flags.vnnlib ? parseVnnlib(await readText(flags.vnnlib, '--vnnlib'), flags.vnnlib) : undefined,
    fix: flags.fix === undefined ? undefined : parseFixed(flags.fix),
    method: flags.method as SearchMethod,
    certify: flags.certify,
    timeLimitMs: 1000 * parsePositive(flags.timeLimit, '--time-limit'),
    tol: parseTol(flags.tol),
    target: flags.target === undefined ? undefined : parseFinite(flags.target, '--target'),
    seed: parseNonNegInt(flags.seed, '--seed'),
  };
}

function parseTol(text: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new InvalidOptionError('--tol', text, 'a non-negative number');
  return v;
}

function outputIndex(text: string, nOut: number): number {
  const k = Number(text);
  if (!Number.isInteger(k) || k < 0 || k >= nOut) throw new InvalidOptionError('--output', text, `an output index 0..${nOut - 1}`);
  return k;
}

function validated<T extends Parameters<typeof validateProperty>[0]>(p: T, nIn: number, nOut: number): T {
  validateProperty(p, nIn, nOut);
  return p;
}

/** Reads a text file for an option; a missing file is a one-line error naming it. */
export async function readText(path: string, option: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new InvalidOptionError(option, path, code === 'ENOENT' ? 'an existing file (no such file)' : `a readable file (${code ?? String(cause)})`);
  }
}
