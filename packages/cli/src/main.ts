#!/usr/bin/env node
import { runCli } from './cli.js';

// a reader that goes away (`nnmax verify --instances ... | head`) ends the output, not in a crash
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isStderrTty: process.stderr.isTTY === true,
  progressStream: process.stderr.isTTY ? process.stderr : undefined,
  signal: controller.signal,
});
process.exitCode = code;
