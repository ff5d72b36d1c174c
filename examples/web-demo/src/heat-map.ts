import type { Surface } from './protocol.js';

const SIZE = 320; // canvas pixels per side of the plot area
const MARGIN = 44; // room for axis labels

/** Viridis at eight stops (sampled from matplotlib's table), interpolated linearly. */
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [70, 50, 127], [54, 92, 141], [39, 127, 142], [31, 161, 135], [74, 194, 109], [159, 218, 58], [253, 231, 37],
];

export function viridis(t: number): [number, number, number] {
  const s = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const k = Math.min(VIRIDIS.length - 2, Math.floor(s));
  const f = s - k;
  const a = VIRIDIS[k];
  const b = VIRIDIS[k + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

export interface HeatMapMarks {
  readonly names: readonly [string, string];
  readonly box: readonly [[number, number], [number, number]]; // [lo, hi] of inputs i and j
  readonly point: readonly [number, number] | null; // x* in (i, j)
}

/** The objective over two inputs through a point, with the search box and x* drawn on top. */
export function drawHeatMap(canvas: HTMLCanvasElement, surface: Surface, marks: HeatMapMarks): { min: number; max: number } {
  const { spec, heat } = surface;
  if (!heat || !spec.heat) throw new Error('drawHeatMap: the surface has no heat map');
  const [i, j] = spec.heat;
  const steps = spec.heatSteps;
  let min = Infinity;
  let max = -Infinity;
  for (const v of heat) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max > min ? max - min : 1;
  const image = new ImageData(steps, steps);
  for (let r = 0; r < steps; r++) {
    for (let q = 0; q < steps; q++) {
      const [cr, cg, cb] = viridis((heat[r * steps + q] - min) / span);
      const o = ((steps - 1 - r) * steps + q) * 4; // row 0 (lo[j]) at the bottom
      image.data[o] = cr;
      image.data[o + 1] = cg;
      image.data[o + 2] = cb;
      image.data[o + 3] = 255;
    }
  }
  canvas.width = SIZE + 2 * MARGIN;
  canvas.height = SIZE + 2 * MARGIN;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2-D canvas');
  const tile = new OffscreenCanvas(steps, steps);
  tile.getContext('2d')?.putImageData(image, 0, 0);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tile, MARGIN, MARGIN, SIZE, SIZE);

  const [xlo, xhi, ylo, yhi] = [spec.lo[i], spec.hi[i], spec.lo[j], spec.hi[j]];
  const px = (x: number): number => MARGIN + ((x - xlo) / (xhi - xlo || 1)) * SIZE;
  const py = (y: number): number => MARGIN + SIZE - ((y - ylo) / (yhi - ylo || 1)) * SIZE;
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 2;
  ctx.setLineDash([6, 4]);
  const [[bxl, bxh], [byl, byh]] = marks.box;
  ctx.strokeRect(px(bxl), py(byh), px(bxh) - px(bxl), py(byl) - py(byh));
  ctx.setLineDash([]);
  if (marks.point) {
    const [cx, cy] = [px(marks.point[0]), py(marks.point[1])];
    ctx.strokeStyle = '#e8172d';
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(cx - 8, cy - 8);
    ctx.lineTo(cx + 8, cy + 8);
    ctx.moveTo(cx + 8, cy - 8);
    ctx.lineTo(cx - 8, cy + 8);
    ctx.stroke();
  }
  ctx.fillStyle = '#222';
  ctx.font = '12px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText(marks.names[0], MARGIN + SIZE / 2, canvas.height - 8);
  ctx.fillText(fmt(xlo), MARGIN, MARGIN + SIZE + 16);
  ctx.fillText(fmt(xhi), MARGIN + SIZE, MARGIN + SIZE + 16);
  ctx.save();
  ctx.translate(14, MARGIN + SIZE / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(marks.names[1], 0, 0);
  ctx.restore();
  ctx.textAlign = 'right';
  ctx.fillText(fmt(ylo), MARGIN - 4, MARGIN + SIZE);
  ctx.fillText(fmt(yhi), MARGIN - 4, MARGIN + 10);
  return { min, max };
}

function fmt(v: number): string {
  return Number(v.toPrecision(3)).toString();
}
