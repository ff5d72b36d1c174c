import { readFileSync, writeFileSync } from 'node:fs';

/** Replaces the block between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in the README. */
export function writeReadmeBlock(readmePath: string, name: string, markdown: string): boolean {
  const text = readFileSync(readmePath, 'utf8');
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const i = text.indexOf(open);
  const j = text.indexOf(close);
  if (i < 0 || j < i) return false;
  writeFileSync(readmePath, `${text.slice(0, i + open.length)}\n${markdown.trim()}\n${text.slice(j)}`);
  return true;
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Best (minimum) wall time in ms of `reps` runs of fn, after one warm-up. */
export async function bestOf(reps: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}
