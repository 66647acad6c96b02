// Run history, and two runs' parameters and metrics side by side.
import { useEffect, useState } from 'react';
import { api, type Comparison, type RunSummary } from './api';

function cell(value: unknown): string {
  if (value === undefined || value === null) return '—';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(5)));
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export function RunsPanel({ refresh, onShow, onOpen }: { refresh: number; onShow: (runId: string) => void; onOpen: (runId: string) => void }) {
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [chosen, setChosen] = useState<string[]>([]);
  const [comparison, setComparison] = useState<Comparison | null>(null);
  const [onlyDifferent, setOnlyDifferent] = useState(true);
  useEffect(() => { api.runs().then(setRuns).catch(() => setRuns([])); }, [refresh]);

  const toggle = (id: string) => setChosen((current) => (current.includes(id) ? current.filter((item) => item !== id) : [...current.slice(-1), id]));

  return (
    <div className="runs-panel" data-testid="runs-panel">
      <div className="runs-list">
        <div className="output-bar">
          <strong>Run history</strong><span className="spacer" />
          <button disabled={chosen.length !== 2} data-testid="compare-runs"
            onClick={() => api.compare(chosen[0], chosen[1]).then(setComparison)}>Compare 2 selected</button>
        </div>
        <table className="grid">
          <thead><tr><th /><th>run</th><th>pipeline</th><th>status</th><th>started</th><th /></tr></thead>
          <tbody>{runs.map((run) => (
            <tr key={run.id} data-testid={`run-${run.id}`}>
              <td><input type="checkbox" checked={chosen.includes(run.id)} onChange={() => toggle(run.id)} /></td>
              <td className="mono">{run.id}</td><td>{run.pipeline}</td>
              <td><span className={`pill status-${run.status}`}>{run.status}</span></td>
              <td>{run.created_at ? new Date(run.created_at).toLocaleString() : ''}</td>
              <td><button onClick={() => onShow(run.id)} title="statuses and outputs of this run on the current canvas">Show on canvas</button>{' '}
                <button onClick={() => onOpen(run.id)} title="open the pipeline exactly as this run used it">Open its pipeline</button></td>
            </tr>
          ))}</tbody>
        </table>
        {runs.length === 0 && <p className="muted">No runs yet.</p>}
      </div>
      {comparison && (
        <div className="comparison" data-testid="comparison">
          <div className="output-bar">
            <strong>Compare</strong> <span className="mono">{comparison.a.id}</span> vs <span className="mono">{comparison.b.id}</span>
            <span className="spacer" />
            <label><input type="checkbox" checked={onlyDifferent} onChange={(event) => setOnlyDifferent(event.target.checked)} /> only differences</label>
          </div>
          {(['params', 'metrics'] as const).map((part) => (
            <table className="grid" key={part}>
              <thead><tr><th>{part}</th><th>A</th><th>B</th></tr></thead>
              <tbody>{comparison[part].filter((row) => !onlyDifferent || row.different).map((row) => (
                <tr key={row.key} className={row.different ? 'different' : ''}><td>{row.key}</td><td>{cell(row.a)}</td><td>{cell(row.b)}</td></tr>
              ))}</tbody>
            </table>
          ))}
        </div>
      )}
    </div>
  );
}
