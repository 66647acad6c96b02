// Stream jobs of the workspace (tidal stream run): state, progress, throughput, lag, dead letters, the gate's metric.
import { useEffect, useState } from 'react';
import { api, type StreamJob } from './api';

const STATE_CLASS: Record<string, string> = { running: 'running', stopped: 'succeeded', failed: 'failed' };

function count(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : value.toLocaleString();
}

function metric(job: StreamJob): string {
  const model = job.model;
  if (!model) return 'no snapshot yet';
  if (model.value === null || model.value === undefined) return `${model.proposed} proposed, none accepted`;
  const name = model.metric === 'auc' ? 'AUC' : 'log loss';
  return `${name} ${model.value.toFixed(4)} (snapshot ${model.snapshot}${model.version != null ? `, v${model.version}` : ''})`;
}

export function StreamsPanel({ refreshSeconds = 2 }: { refreshSeconds?: number }) {
  const [jobs, setJobs] = useState<StreamJob[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const load = () => api.streams()
      .then((found) => { if (live) { setJobs(found); setError(null); } })
      .catch((failure: Error) => { if (live) setError(failure.message); });
    load();
    const timer = window.setInterval(load, refreshSeconds * 1000);
    return () => { live = false; window.clearInterval(timer); };
  }, [refreshSeconds]);

  return (
    <div className="streams-panel" data-testid="streams-panel">
      <div className="output-bar"><strong>Stream jobs</strong><span className="spacer" />
        <span className="muted"><code>tidal stream run JOB.yaml</code> runs one; refreshed every {refreshSeconds} s</span></div>
      {error && <p className="problem">{error}</p>}
      <div className="grid-scroll"><table className="grid">
        <thead><tr><th>job</th><th>state</th><th>epoch</th><th>rows</th><th>rows/s</th><th>lag</th><th>dead letters</th>
          <th>model</th><th>metric (last accepted)</th><th>last decision</th></tr></thead>
        <tbody>{(jobs ?? []).map((job) => (
          <tr key={job.job} data-testid={`stream-${job.job}`}>
            <td className="mono">{job.job}</td>
            <td><span className={`pill status-${STATE_CLASS[job.state] ?? (job.state.startsWith('dead') ? 'failed' : 'skipped')}`}
              title={job.state}>{job.state.split(' ')[0]}</span></td>
            <td>{job.epoch}</td><td>{count(job.rows)}</td>
            <td>{job.rows_per_second == null ? '—' : Math.round(job.rows_per_second).toLocaleString()}</td>
            <td>{count(job.lag)}</td><td>{count(job.dead_letters)}</td>
            <td className="mono">{job.registered_model ?? '—'}</td>
            <td data-testid={`stream-${job.job}-metric`}>{metric(job)}</td>
            <td title={job.model?.last?.reason ?? ''}>{job.model?.last
              ? `#${job.model.last.index} ${job.model.last.accepted ? 'accepted' : 'refused'}` : '—'}</td>
          </tr>
        ))}</tbody>
      </table></div>
      {jobs !== null && jobs.length === 0 && <p className="muted">No stream jobs in this workspace yet.</p>}
      {(jobs ?? []).flatMap((job) => job.schema_changes.map((change) => (
        <p key={`${job.job}-${change}`} className="muted">{job.job}: {change}</p>)))}
    </div>
  );
}
