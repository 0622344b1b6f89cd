// A daily bar chart drawn as SVG: light, readable at 375 px, with the value
// of each bar in its tooltip.
export interface Series {
  label: string;
  color: string;
  values: number[];
}

export function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function BarChart({ title, dates, series }: { title: string; dates: string[]; series: Series[] }) {
  const w = 600;
  const h = 180;
  const top = 10;
  const left = 36;
  const bottom = 20;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const n = Math.max(1, dates.length);
  const slot = (w - left) / n;
  const bw = Math.max(1, (slot * 0.8) / series.length);
  const y = (v: number) => top + (h - bottom - top) * (1 - v / max);
  const labelEvery = Math.ceil(n / 8);
  return (
    <figure class="chart">
      <figcaption>
        <b>{title}</b>
        {series.map((s) => (
          <span key={s.label} class="legend">
            <i style={{ background: s.color }} /> {s.label}: {s.values.reduce((a, b) => a + b, 0).toLocaleString()}
          </span>
        ))}
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label={title} preserveAspectRatio="none">
        {(max >= 2 ? [0, 0.5, 1] : [0, 1]).map((f) => (
          <g key={f}>
            <line x1={left} x2={w} y1={y(max * f)} y2={y(max * f)} class="grid-line" />
            <text x={left - 4} y={y(max * f) + 4} text-anchor="end" class="axis">
              {Math.round(max * f).toLocaleString()}
            </text>
          </g>
        ))}
        {dates.map((d, i) => (
          <g key={d}>
            {series.map((s, j) => {
              const v = s.values[i] ?? 0;
              return (
                <rect key={s.label} x={left + i * slot + slot * 0.1 + j * bw} y={y(v)} width={bw} height={h - bottom - y(v)} fill={s.color}>
                  <title>{`${d} ${s.label}: ${v}`}</title>
                </rect>
              );
            })}
            {i % labelEvery === 0 && (
              <text x={left + i * slot + slot / 2} y={h - 4} text-anchor="middle" class="axis">
                {d.slice(5)}
              </text>
            )}
          </g>
        ))}
      </svg>
    </figure>
  );
}
