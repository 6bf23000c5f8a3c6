// Charts of the event page, drawn by uPlot (a 20 KB canvas chart library
// made for time series, fast with thousands of points). Every chart has a
// text alternative: its figures in a visually hidden table.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const palette = ['#1f5fd1', '#d9480f', '#2b8a3e', '#7048e8', '#c2255c', '#0b7285'];

function useChart(make, deps) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(240, el.clientWidth || 480);
    const chart = make(el, width);
    const ro = new ResizeObserver(() => chart.setSize({ width: Math.max(240, el.clientWidth), height: chart.height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      chart.destroy();
    };
  }, deps);
  return box;
}

// xRange is the x scale of buckets starting at xs (unix seconds): each
// bucket's width around it, so that a lone bucket is not drawn over years.
function xRange(xs) {
  if (!xs.length) return [Date.now() / 1000 - 60, Date.now() / 1000];
  const step = xs.length > 1 ? xs[1] - xs[0] : 60;
  return [xs[0] - step / 2, xs[xs.length - 1] + step / 2];
}

// TimeChart draws series of {at, value} points sharing their times.
export function TimeChart({ title, series }) {
  const points = series.reduce((n, s) => n + s.points.length, 0);
  const xs = series[0] ? series[0].points.map((p) => new Date(p.at).getTime() / 1000) : [];
  const box = useChart(
    (el, width) =>
      new uPlot(
        {
          width,
          height: 200,
          legend: { show: series.length > 1 },
          cursor: { drag: { x: false, y: false } },
          // Buckets of counts: bars, each over its bucket; a lone bucket
          // gets a bucket's width either side rather than years.
          scales: {
            x: { time: true, auto: false, range: xRange(xs) },
            y: { range: (u, min, max) => [0, Math.max(1, max) * 1.15] },
          },
          axes: [{}, { size: 48 }],
          series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], fill: palette[i % palette.length] + 'aa', paths: uPlot.paths.bars({ size: [0.8, 60] }), points: { show: false } }))],
        },
        [xs, ...series.map((s) => s.points.map((p) => p.value))],
        el,
      ),
    [JSON.stringify(series)],
  );
  return (
    <figure class="chart" data-points={points}>
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
      <table class="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            {series.map((s) => <th scope="col">{s.label}</th>)}
          </tr>
        </thead>
        <tbody>
          {xs.map((x, i) => (
            <tr>
              <td>{new Date(x * 1000).toLocaleString()}</td>
              {series.map((s) => <td>{s.points[i]?.value}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

// BarChart draws labelled values as bars (devices, sources, funnels, ratings).
export function BarChart({ title, bars, unit = '' }) {
  const xs = bars.map((_, i) => i);
  const box = useChart(
    (el, width) =>
      new uPlot(
        {
          width,
          height: 200,
          legend: { show: false },
          cursor: { show: false },
          scales: { x: { time: false, range: [-0.5, bars.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } },
          axes: [{ values: (u, splits) => splits.map((i) => (Number.isInteger(i) && bars[i] ? bars[i].label : '')), gap: 4, space: 30 }, { size: 48, values: (u, v) => v.map((n) => n + unit) }],
          series: [{}, { label: title, fill: palette[0] + 'cc', stroke: palette[0], paths: uPlot.paths.bars({ size: [0.6, 80] }), points: { show: false } }],
        },
        [xs, bars.map((b) => b.value)],
        el,
      ),
    [JSON.stringify(bars)],
  );
  return (
    <figure class="chart" data-points={bars.length}>
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
      <table class="visually-hidden">
        <caption>{title}</caption>
        <tbody>
          {bars.map((b) => (
            <tr>
              <th scope="row">{b.label}</th>
              <td>{b.value}{unit}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
