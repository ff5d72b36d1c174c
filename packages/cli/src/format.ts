/** Compact number formatting for the terminal (JSON output keeps full precision). */
export function fmt(v: number, digits = 6): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-4 || a >= 1e6) ? v.toExponential(digits - 1) : Number(v.toPrecision(digits)).toString();
}

export function fmtList(vs: ArrayLike<number>, digits = 6, max = 12): string {
  const parts = Array.from(vs).slice(0, max).map((v) => fmt(v, digits));
  return `[${parts.join(', ')}${vs.length > max ? `, ... (${vs.length} values)` : ''}]`;
}

/** Merges runs of identical layer descriptions: "relu 50" x 6 -> "6 x (dense 50 -> 50, relu 50)" is overkill; keep simple runs. */
export function summarizeLayers(layers: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < layers.length; ) {
    let j = i + 1;
    while (j < layers.length && layers[j] === layers[i]) j++;
    out.push(j - i > 1 ? `${j - i} x ${layers[i]}` : layers[i]);
    i = j;
  }
  return out.join(', ');
}
