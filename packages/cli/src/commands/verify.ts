import { stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { formatVnncompResult, InvalidOptionError, parseVnnlib, verify, type Property } from 'nnmax';
import { loadModel } from 'nnmax/node';
import type { CliIo } from '../cli.js';
import { parsePositive } from '../parse-args.js';
import { ProgressLine } from '../progress.js';
import { readText } from './maximize.js';

interface VerifyFlags {
  readonly timeout?: string;
  readonly out?: string;
  readonly seed: string;
  readonly instances?: string;
  readonly outDir?: string;
}

/** One row of a VNN-COMP instances file: model, property, timeout (s). Paths as written in the file. */
export interface Instance {
  readonly model: string;
  readonly property: string;
  readonly timeoutS: number;
}

/**
 * Parses a VNN-COMP `instances.csv`: one `model.onnx,property.vnnlib,timeout` row a line (blank
 * lines skipped). The error names the file, the line and the bad field.
 */
export function parseInstances(text: string, file: string): Instance[] {
  const out: Instance[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const fields = line.split(',').map((f) => f.trim());
    const where = `${file} line ${i + 1}`;
    if (fields.length !== 3 || fields[0] === '' || fields[1] === '') {
      throw new InvalidOptionError(where, line, "'model.onnx,property.vnnlib,timeout'");
    }
    const timeoutS = Number(fields[2]);
    if (!(timeoutS > 0) || !Number.isFinite(timeoutS)) throw new InvalidOptionError(`${where} timeout`, fields[2], 'a positive number of seconds');
    out.push({ model: fields[0], property: fields[1], timeoutS });
  });
  if (out.length === 0) throw new InvalidOptionError('--instances', file, 'at least one instance row');
  return out;
}

/**
 * `nnmax verify <model> <prop.vnnlib>`: the VNN-COMP result format on stdout (and in --out).
 * `nnmax verify --instances instances.csv`: every instance of a VNN-COMP instances file in this one
 * process, a model loaded once for the consecutive rows that use it; one CSV line per instance on
 * stdout (`model,property,status,seconds`), and each result file in --out-dir.
 */
export function verifyCommand(program: Command, io: CliIo): void {
  program
    .command('verify')
    .description('answer a VNN-LIB property: sat (with a re-checked counterexample), unsat (certified), timeout or unknown')
    .argument('[model]', 'ONNX file')
    .argument('[property]', 'VNN-LIB 1.0 file')
    .option('--timeout <seconds>', 'time limit (default 60; with --instances, overrides the file\'s timeouts)')
    .option('--out <file>', 'also write the result file here')
    .option('--seed <n>', 'random seed', '0')
    .option('--instances <csv>', 'answer every row of a VNN-COMP instances file (model,property,timeout; paths relative to the file)')
    .option('--out-dir <dir>', 'with --instances: write each result file here, as <model>_<property>.txt')
    .action(async (file: string | undefined, propFile: string | undefined, flags: VerifyFlags) => {
      const seed = Number(flags.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new InvalidOptionError('--seed', flags.seed, 'a non-negative integer');
      const timeoutS = flags.timeout === undefined ? undefined : parsePositive(flags.timeout, '--timeout');
      if (flags.instances !== undefined) {
        if (file !== undefined || propFile !== undefined) throw new InvalidOptionError('<model> <property>', [file, propFile].filter(Boolean).join(' '), 'none with --instances');
        if (flags.out !== undefined) throw new InvalidOptionError('--out', flags.out, 'not with --instances (use --out-dir)');
        await verifyInstances(flags.instances, timeoutS, seed, flags.outDir, io);
        return;
      }
      if (file === undefined || propFile === undefined) throw new InvalidOptionError('arguments', [file, propFile].filter(Boolean).join(' ') || '(none)', '<model> <property>, or --instances <csv>');
      if (flags.outDir !== undefined) throw new InvalidOptionError('--out-dir', flags.outDir, 'only with --instances (use --out)');
      const property = parseVnnlib(await readText(propFile, '<property>'), propFile);
      const model = await loadModel(file);
      const progress = io.progressStream ? new ProgressLine(io.progressStream, true) : undefined;
      try {
        const r = await verify(model, property, { timeLimitMs: 1000 * (timeoutS ?? 60), seed, signal: io.signal, onProgress: progress && ((e) => progress.update(e)) });
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

/**
 * The instances of `csvFile` one after another. Every property is read and parsed before the first
 * answer, so a bad file stops the run before any verdict; each line's time counts from the start
 * of its instance, loading its model included when it is the first row of that model.
 */
async function verifyInstances(csvFile: string, timeoutS: number | undefined, seed: number, outDir: string | undefined, io: CliIo): Promise<void> {
  if (outDir !== undefined && !(await stat(outDir).then((s) => s.isDirectory(), () => false))) {
    throw new InvalidOptionError('--out-dir', outDir, 'an existing directory');
  }
  const base = dirname(resolve(csvFile));
  const rows = parseInstances(await readText(csvFile, '--instances'), csvFile);
  // each row's property, parsed once per file
  const parsed = new Map<string, Property>();
  const properties: Property[] = [];
  for (const row of rows) {
    const path = resolve(base, row.property);
    let property = parsed.get(path);
    if (property === undefined) {
      property = parseVnnlib(await readText(path, `${csvFile} property`), path);
      parsed.set(path, property);
    }
    properties.push(property);
  }
  let loaded: { path: string; model: Awaited<ReturnType<typeof loadModel>> } | undefined;
  try {
    for (const [i, row] of rows.entries()) {
      if (io.signal?.aborted) break;
      const t0 = performance.now();
      const modelPath = resolve(base, row.model);
      if (loaded?.path !== modelPath) {
        await loaded?.model.dispose();
        loaded = undefined; // disposed: if the next load throws, `finally` must not dispose it again
        loaded = { path: modelPath, model: await loadModel(modelPath) };
      }
      const r = await verify(loaded.model, properties[i], { timeLimitMs: 1000 * (timeoutS ?? row.timeoutS), seed, signal: io.signal });
      const text = r.status === 'sat' ? formatVnncompResult('sat', r.x, r.y) : formatVnncompResult(r.status);
      if (outDir !== undefined) await writeFile(join(outDir, `${stem(row.model)}_${stem(row.property)}.txt`), text);
      io.stdout(`${row.model},${row.property},${r.status},${((performance.now() - t0) / 1000).toFixed(3)}\n`);
    }
  } finally {
    await loaded?.model.dispose();
  }
}

function stem(path: string): string {
  return basename(path).replace(/\.[^.]*$/, '');
}
