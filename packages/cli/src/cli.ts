import { Command, CommanderError } from 'commander';
import { NnmaxError } from 'nnmax';
import { infoCommand } from './commands/info.js';
import { evalCommand } from './commands/eval.js';
import { maximizeCommand } from './commands/maximize.js';
import { verifyCommand } from './commands/verify.js';

/** Where the CLI writes; `process` is touched only in main.ts. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly isStderrTty: boolean;
  /** The TTY stream for the live progress line (stderr when it is a TTY), else undefined. */
  readonly progressStream?: NodeJS.WritableStream;
  /** Aborted on SIGINT. */
  readonly signal?: AbortSignal;
}

export const CLI_VERSION = '0.1.0';

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command('nnmax')
    .description('Find the global maximum of a neural network exported to ONNX, with certified bounds.')
    .version(CLI_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showHelpAfterError(false);
  let code = 0;
  const setCode = (c: number): void => {
    code = c;
  };
  infoCommand(program, io, setCode);
  evalCommand(program, io, setCode);
  maximizeCommand(program, io, 'maximize');
  maximizeCommand(program, io, 'minimize');
  verifyCommand(program, io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      io.stderr(`nnmax: ${e.message.replace(/^error: /, '')}\n`);
      return 2;
    }
    if (e instanceof NnmaxError) {
      io.stderr(`nnmax: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  return code;
}
