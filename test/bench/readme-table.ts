import { readFileSync, writeFileSync } from 'node:fs';
import { loadModel, type Model } from 'nnmax/node';

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

/** The median of xs (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Runs `fn` on each problem with its network loaded, one model at a time: problems of one file
 * are adjacent in the problem set, so each model loads once and loading stays out of the timing.
 */
export async function forEachWithModel<P extends { readonly onnx: string }>(problems: readonly P[], fn: (p: P, model: Model) => Promise<void>): Promise<void> {
  let model: Model | undefined;
  let file = '';
  try {
    for (const p of problems) {
      if (p.onnx !== file || model === undefined) {
        await model?.dispose();
        model = undefined;
        model = await loadModel(p.onnx);
        file = p.onnx;
      }
      await fn(p, model);
    }
  } finally {
    await model?.dispose();
  }
}
