// One output of a run: a table page with column statistics, metrics with charts (an optimization report as a page),
// a figure or a model summary.
import { useEffect, useState } from 'react';
import { api, type ArtifactPreview, type ColumnStats } from './api';
import { OptimizeReportPage } from './OptimizeReportPage';
import { isOptimizeReport } from './optimizeReport';
import { VegaChart } from './VegaChart';

const PAGE = 50;

function show(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function OutputView({ artifactId, title }: { artifactId: number; title: string }) {
  const [offset, setOffset] = useState(0);
  const [view, setView] = useState<ArtifactPreview | null>(null);
  const [stats, setStats] = useState<ColumnStats[] | null>(null);
  const [figure, setFigure] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => { setOffset(0); setStats(null); setFigure(null); }, [artifactId]);
  useEffect(() => {
    setError(null);
    api.artifact(artifactId, offset, PAGE).then(setView).catch((problem: Error) => setError(problem.message));
  }, [artifactId, offset]);

  if (error) return <div className="problem">{error}</div>;
  if (!view) return <div className="muted">Loading {title}…</div>;

  if (view.type === 'Table') {
    const rows = view.rows ?? 0;
    return (
      <div className="output table-output" data-testid="output-table">
        <div className="output-bar">
          <strong>{title}</strong> · {rows.toLocaleString()} rows × {view.columns.length} columns
          <span className="spacer" />
          <button onClick={() => (stats ? setStats(null) : api.stats(artifactId).then((found) => setStats(found.columns)))} data-testid="toggle-stats">
            {stats ? 'Hide statistics' : 'Column statistics'}
          </button>
          <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>‹ Prev</button>
          <span>{rows ? `${offset + 1}–${Math.min(rows, offset + PAGE)}` : '0'}</span>
          <button disabled={offset + PAGE >= rows} onClick={() => setOffset(offset + PAGE)} data-testid="next-page">Next ›</button>
        </div>
        {stats && (
          <table className="grid stats" data-testid="stats-table">
            <thead><tr><th>column</th><th>type</th><th>count</th><th>nulls</th><th>distinct</th><th>min</th><th>max</th><th>mean</th></tr></thead>
            <tbody>{stats.map((item) => (
              <tr key={item.name}><td>{item.name}</td><td>{item.type}</td><td>{item.count}</td><td>{item.nulls}</td><td>{item.distinct}</td>
                <td>{show(item.min)}</td><td>{show(item.max)}</td><td>{show(item.mean)}</td></tr>
            ))}</tbody>
          </table>
        )}
        <div className="grid-scroll">
          <table className="grid">
            <thead><tr><th>#</th>{view.columns.map((column) => <th key={column.name} title={column.type}>{column.name}</th>)}</tr></thead>
            <tbody>{view.data.map((row, index) => (
              <tr key={index}><td className="muted">{offset + index + 1}</td>{view.columns.map((column) => <td key={column.name}>{show(row[column.name])}</td>)}</tr>
            ))}</tbody>
          </table>
        </div>
      </div>
    );
  }
  if (isOptimizeReport(view)) return <OptimizeReportPage view={view} title={title} />;
  if (view.type === 'Metrics') {
    const names = Object.keys(view.figures);
    return (
      <div className="output metrics-output" data-testid="output-metrics">
        <div className="output-bar"><strong>{title}</strong> · {Object.keys(view.metrics).length} metrics</div>
        <div className="metrics-layout">
          <table className="grid metrics">
            <tbody>{Object.entries(view.metrics).map(([name, value]) => (
              <tr key={name} data-testid={`metric-${name}`}><th>{name}</th><td>{show(value)}</td></tr>
            ))}</tbody>
          </table>
          <div className="figures">
            <div className="figure-tabs">
              {names.map((name) => (
                <button key={name} className={figure === name ? 'active' : ''} onClick={() => setFigure(name)} data-testid={`figure-${name}`}>{name}</button>
              ))}
              {Object.keys(view.tables).map((name) => (
                <button key={`t-${name}`} className={figure === `table:${name}` ? 'active' : ''} onClick={() => setFigure(`table:${name}`)}>{name} (table)</button>
              ))}
            </div>
            {figure && view.figures[figure] && <VegaChart spec={view.figures[figure]} name={figure} />}
            {figure?.startsWith('table:') && (() => {
              const rows = view.tables[figure.slice(6)] ?? [];
              const keys = rows.length ? Object.keys(rows[0]) : [];
              return (
                <table className="grid"><thead><tr>{keys.map((key) => <th key={key}>{key}</th>)}</tr></thead>
                  <tbody>{rows.map((row, index) => <tr key={index}>{keys.map((key) => <td key={key}>{show(row[key])}</td>)}</tr>)}</tbody></table>
              );
            })()}
            {!figure && names.length > 0 && <p className="muted">Choose a chart above.</p>}
          </div>
        </div>
      </div>
    );
  }
  if (view.type === 'Figure' && view.spec) {
    return <div className="output" data-testid="output-figure"><div className="output-bar"><strong>{title}</strong></div><VegaChart spec={view.spec} name="figure" /></div>;
  }
  const summary = view.summary ?? {};
  const signature = (summary.signature ?? {}) as { inputs?: { name: string; dtype: string }[] };
  return (
    <div className="output model-output" data-testid="output-model">
      <div className="output-bar"><strong>{title}</strong> · model</div>
      <table className="grid metrics"><tbody>
        {['flavor', 'task', 'label', 'classes', 'params', 'libraries', 'lineage', 'created_at'].filter((key) => key in summary).map((key) => (
          <tr key={key}><th>{key}</th><td>{show(summary[key])}</td></tr>
        ))}
        <tr><th>features</th><td>{(signature.inputs ?? []).map((item) => `${item.name} (${item.dtype})`).join(', ')}</td></tr>
      </tbody></table>
    </div>
  );
}
