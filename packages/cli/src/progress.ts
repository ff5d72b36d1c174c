import cliProgress from 'cli-progress';
import type { ProgressEvent } from 'nnmax';
import { fmt } from './format.js';

/**
 * The live progress line on a TTY's stderr (cli-progress): elapsed time, evaluations per second,
 * incumbent and, when certifying, bound and gap. When certifying, the bar fills as the gap closes
 * (log scale from the first gap down to the tolerance is overkill for a terminal: the bar shows
 * 1 - gap / first gap).
 */
export class ProgressLine {
  private readonly bar: cliProgress.SingleBar;
  private firstGap: number | undefined;
  private isStopped = false;

  constructor(stream: NodeJS.WritableStream, private readonly isCertifying: boolean) {
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: isCertifying
          ? ' {bar} {elapsed}s | {rate} evals/s | best {value} | bound {bound} | gap {gap} | {phase}'
          : ' {elapsed}s | {rate} evals/s | best {value} | {phase}',
        hideCursor: true,
        clearOnComplete: false,
        fps: 10,
        barsize: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(1000, 0, { elapsed: '0.0', rate: '-', value: '-', bound: '-', gap: '-', phase: 'start' });
  }

  update(e: ProgressEvent): void {
    if (this.isStopped) return;
    if (e.gap !== null && this.firstGap === undefined && Number.isFinite(e.gap) && e.gap > 0) this.firstGap = e.gap;
    const fraction = e.gap === null || this.firstGap === undefined ? 0 : Math.max(0, Math.min(1, 1 - e.gap / this.firstGap));
    this.bar.update(this.isCertifying ? Math.round(1000 * fraction) : 0, {
      elapsed: (e.elapsedMs / 1000).toFixed(1),
      rate: e.elapsedMs > 0 ? fmt((1000 * e.evaluations) / e.elapsedMs, 3) : '-',
      value: fmt(e.value, 8),
      bound: e.bound === null ? '-' : fmt(e.bound, 8),
      gap: e.gap === null ? '-' : fmt(e.gap, 3),
      phase: e.phase,
    });
  }

  stop(): void {
    if (this.isStopped) return;
    this.isStopped = true;
    this.bar.stop();
  }
}
