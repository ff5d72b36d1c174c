import type { Command } from 'commander';
import { loadModel } from 'nnmax/node';
import type { CliIo } from '../cli.js';
import { summarizeLayers } from '../format.js';

export function infoCommand(program: Command, io: CliIo, _setCode: (c: number) => void): void {
  program
    .command('info')
    .description('show what a model is: producer, inputs/outputs, layers, parameters, capabilities')
    .argument('<model>', 'ONNX file')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const model = await loadModel(file);
      try {
        const info = model.info();
        if (opts.json) {
          io.stdout(`${JSON.stringify(info, null, 2)}\n`);
          return;
        }
        const yes = (b: boolean): string => (b ? 'yes' : 'no');
        const lines = [
          ['model', info.file],
          ['producer', `${info.producer} (ONNX IR v${info.irVersion}, opset ${info.opset})`],
          ['input', `'${info.input.name}' [${info.input.shape.join(',')}] -> ${info.input.size} values`],
          ['output', `'${info.output.name}' [${info.output.shape.join(',')}] -> ${info.output.size} values`],
          ['ops', info.opTypes.join(', ')],
          ['layers', info.layers.length > 0 ? summarizeLayers(info.layers) : '(outside the IR)'],
          ['parameters', info.parameters === null ? 'n/a' : String(info.parameters)],
          [
            'capabilities',
            `black-box search: ${yes(info.capabilities.blackBoxSearch)}; gradient graph: ${yes(info.capabilities.gradientGraph)}; certified bounds: ${yes(info.capabilities.bounds)}`,
          ],
        ];
        for (const u of info.unsupported.slice(0, 10)) lines.push(['unsupported', `node '${u.node}' (${u.opType}): ${u.reason}`]);
        io.stdout(lines.map(([k, v]) => `${k.padEnd(13)}${v}`).join('\n') + '\n');
      } finally {
        await model.dispose();
      }
    });
}
