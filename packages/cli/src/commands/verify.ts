import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatVnncompResult, InvalidOptionError, parseVnnlib, verify } from 'nnmax';
import { loadModel } from 'nnmax/node';
import type { CliIo } from '../cli.js';
import { parsePositive } from '../parse-args.js';
import { ProgressLine } from '../progress.js';
import { readText } from './maximize.js';

/** `nnmax verify <model> <prop.vnnlib>`: the VNN-COMP result format on stdout (and in --out). */
export function verifyCommand(program: Command, io: CliIo): void {
  program
    .command('verify')
    .description('answer a VNN-LIB property: sat (with a re-checked counterexample), unsat (certified), timeout or unknown')
    .argument('<model>', 'ONNX file')
    .argument('<property>', 'VNN-LIB 1.0 file')
    .option('--timeout <seconds>', 'time limit', '60')
    .option('--out <file>', 'also write the result file here')
    .option('--seed <n>', 'random seed', '0')
    .action(async (file: string, propFile: string, flags: { timeout: string; out?: string; seed: string }) => {
      const timeLimitMs = 1000 * parsePositive(flags.timeout, '--timeout');
      const seed = Number(flags.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new InvalidOptionError('--seed', flags.seed, 'a non-negative integer');
      const property = parseVnnlib(await readText(propFile, '<property>'), propFile);
      const model = await loadModel(file);
      const progress = io.progressStream ? new ProgressLine(io.progressStream, true) : undefined;
      try {
        const r = await verify(model, property, { timeLimitMs, seed, signal: io.signal, onProgress: progress && ((e) => progress.update(e)) });
        progress?.stop();
        const text = r.status === 'sat' ? formatVnncompResult('sat', r.x, r.y) : formatVnncompResult(r.status);
        if (flags.out) await writeFile(flags.out, text);
        io.stdout(text);
        if (r.status !== 'sat' && r.status !== 'unsat') io.stderr(`nnmax: ${r.reason}\n`);
      } finally {
        progress?.stop();
        await model.dispose();
      }
    });
}
