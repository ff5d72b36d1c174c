import type { Command } from 'commander';
import { evaluatePoint, parseObjective } from 'nnmax';
import { loadModel } from 'nnmax/node';
import type { CliIo } from '../cli.js';
import { fmt, fmtList } from '../format.js';
import { parseNumberList } from '../parse-args.js';

export function evalCommand(program: Command, io: CliIo, _setCode: (c: number) => void): void {
  program
    .command('eval')
    .description('evaluate the network (float32 onnxruntime and float64 IR) and the objective gradient at one point')
    .argument('<model>', 'ONNX file')
    .requiredOption('--x <values>', 'input point "v0,v1,..." in the flattened input order')
    .option('--objective <expr>', 'linear expression over outputs, e.g. "y2 - 0.5*y0"', 'y0')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { x: string; objective: string; json?: boolean }) => {
      const x = parseNumberList(opts.x, '--x');
      const model = await loadModel(file);
      try {
        const objective = parseObjective(opts.objective, model.nOut, '--objective');
        const r = await evaluatePoint(model, x, objective);
        if (opts.json) {
          io.stdout(`${JSON.stringify(r)}\n`);
          return;
        }
        const lines = [
          `output (onnxruntime, float32)  ${fmtList(r.output, 7)}`,
          `output (IR, float64)           ${r.output64 ? fmtList(r.output64, 10) : 'n/a (model outside the IR)'}`,
          `objective ${objective.text} = ${fmt(r.value, 10)}`,
          `gradient                       ${r.gradient ? fmtList(r.gradient, 6) : 'n/a (model outside the IR)'}`,
        ];
        io.stdout(lines.join('\n') + '\n');
      } finally {
        await model.dispose();
      }
    });
}
