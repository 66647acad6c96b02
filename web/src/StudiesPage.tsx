// AutoML studies of the workspace: the list, one study's trials and charts; start one from the open
// pipeline's automl.tune node, stop it, resume it. Everything goes through /api/studies.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, type PipelineDict, type StudyDetail, type StudySummary } from './api';
import { formatValue, orderedFigures, parameterColumns, TRIAL_ROWS, trialNote } from './studies';
import { VegaChart } from './VegaChart';

interface Props {
  pipeline: PipelineDict;
  path: string | null;
  tuneNodes: string[];
  notify: (text: string, kind?: string) => void;
  refreshSeconds?: number;
}

function Figures({ figures }: { figures: Record<string, Record<string, unknown>> }) {
  // drawn again only when a chart's data changed, not at every refresh
  const key = JSON.stringify(figures);
  const stable = useMemo(() => orderedFigures(JSON.parse(key) as Record<string, Record<string, unknown>>), [key]);
  return (
    <div className="study-charts">
      {stable.map(([name, spec]) => <VegaChart key={name} name={name} spec={{ ...spec, width: 330, height: 190 }} />)}
    </div>
  );
}

function StudyView({ detail, onStop, onResume }: { detail: StudyDetail; onStop: () => void; onResume: () => void }) {
  const names = parameterColumns(detail);
  const shown = detail.trial_list.slice(-TRIAL_ROWS);
  const counts = Object.entries(detail.counts).map(([status, count]) => `${count} ${status}`).join(', ');
  const canResume = !detail.controlled && !['succeeded', 'running'].includes(detail.status);
  return (
    <div className="study-view" data-testid="study-detail">
      <div className="output-bar">
        <strong data-testid="study-title">{detail.name}</strong>
        <span className={`pill status-${detail.status}`} data-testid="study-status">{detail.status}</span>
        <span className="mono muted">{detail.id}</span>
        <span className="spacer" />
        <button className="danger" onClick={onStop} disabled={!detail.controlled} data-testid="study-stop"
          title={detail.controlled ? 'stop the study; its running trials end as cancelled' : 'only a study this Studio runs can be stopped here'}>■ Stop</button>
        <button onClick={onResume} disabled={!canResume} data-testid="study-resume"
          title="continue the study; finished trials are kept">▶ Resume</button>
      </div>
      <p className="muted study-facts">
        {detail.strategy} search of <span className="mono">{detail.trainer}</span> · {detail.metric} ({detail.direction}) ·{' '}
        <span data-testid="study-count">{detail.trials} of {detail.budget} trials</span>{counts ? ` (${counts})` : ''}
        {detail.best_value != null ? <> · best <b data-testid="study-best">{formatValue(detail.best_value)}</b> (trial {detail.best_trial})</> : null}
        {detail.node_id ? <> · from node <span className="mono">{detail.node_id}</span> of run <span className="mono">{detail.run_id}</span></> : null}
      </p>
      {detail.error && <p className="problem">{detail.error}</p>}
      <Figures figures={detail.figures} />
      <div className="grid-scroll study-trials">
        <table className="grid" data-testid="study-trials">
          <thead><tr><th>trial</th><th>status</th><th>{detail.metric}</th>{names.map((name) => <th key={name}>{name}</th>)}<th>seconds</th><th>lineage / note</th></tr></thead>
          <tbody>{shown.map((trial) => (
            <tr key={trial.number} data-testid={`trial-${trial.number}`} className={trial.number === detail.best_trial ? 'best' : ''}>
              <td>{trial.number}</td>
              <td><span className={`pill status-${trial.status}`}>{trial.status}</span></td>
              <td>{formatValue(trial.value)}</td>
              {names.map((name) => <td key={name}>{formatValue(trial.params[name])}</td>)}
              <td>{trial.duration_s == null ? '—' : trial.duration_s.toFixed(2)}</td>
              <td className="note">{trialNote(trial)}</td>
            </tr>
          ))}</tbody>
        </table>
      </div>
      {detail.trial_list.length > shown.length && <p className="muted">the last {shown.length} of {detail.trial_list.length} trials</p>}
    </div>
  );
}

export function StudiesPage({ pipeline, path, tuneNodes, notify, refreshSeconds = 1.5 }: Props) {
  const [studies, setStudies] = useState<StudySummary[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState<StudyDetail | null>(null);
  const [node, setNode] = useState<string>('');
  const [waitingFor, setWaitingFor] = useState<string | null>(null);  // the run of a study just started
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const timer = window.setInterval(() => setTick((count) => count + 1), refreshSeconds * 1000);
    return () => window.clearInterval(timer);
  }, [refreshSeconds]);
  useEffect(() => {
    let live = true;
    api.studies().then((found) => {
      if (!live) return;
      setStudies(found);
      setError(null);
      const started = waitingFor ? found.find((study) => study.run_id === waitingFor) : undefined;
      if (started) { setSelected(started.id); setWaitingFor(null); }
    }).catch((failure: Error) => live && setError(failure.message));
    return () => { live = false; };
  }, [tick, waitingFor]);
  useEffect(() => {
    if (!selected) { setDetail(null); return; }
    let live = true;
    api.study(selected).then((found) => live && setDetail(found)).catch((failure: Error) => live && setError(failure.message));
    return () => { live = false; };
  }, [selected, tick]);
  useEffect(() => { if (!tuneNodes.includes(node)) setNode(tuneNodes[0] ?? ''); }, [tuneNodes, node]);

  const start = useCallback(async () => {
    try {
      const started = await api.startStudy(pipeline, { path, node });
      setWaitingFor(started.run_id);
      notify(`Starting a study from node ${started.node} (run ${started.run_id})`);
    } catch (failure) {
      notify(`Cannot start: ${(failure as Error).message.split('\n')[0]}`, 'error');
    }
  }, [pipeline, path, node, notify]);
  const act = useCallback((action: 'stop' | 'resume') => {
    if (!selected) return;
    (action === 'stop' ? api.stopStudy(selected) : api.resumeStudy(selected))
      .then((answer) => { notify(answer.detail); setTick((count) => count + 1); })
      .catch((failure: Error) => notify(failure.message, 'error'));
  }, [selected, notify]);

  return (
    <div className="studies-page" data-testid="studies-page">
      <aside className="studies-list">
        <div className="output-bar"><strong>AutoML studies</strong><span className="spacer" /></div>
        <div className="study-start">
          {tuneNodes.length ? (
            <>
              <select value={node} onChange={(event) => setNode(event.target.value)} data-testid="study-node">
                {tuneNodes.map((id) => <option key={id} value={id}>{id}</option>)}
              </select>
              <button className="primary" onClick={start} disabled={!node || waitingFor !== null} data-testid="study-start">▶ Start study</button>
            </>
          ) : <p className="muted">Add an <span className="mono">automl.tune</span> node to the pipeline to start a study from it here.</p>}
          {waitingFor && <p className="muted" data-testid="study-waiting">waiting for run {waitingFor} to reach its tune node…</p>}
        </div>
        {error && <p className="problem">{error}</p>}
        <ul className="study-rows">
          {(studies ?? []).map((study) => (
            <li key={study.id} className={study.id === selected ? 'selected' : ''} onClick={() => setSelected(study.id)} data-testid={`study-row-${study.name}`}>
              <div><b>{study.name}</b> <span className={`pill status-${study.status}`}>{study.status}</span></div>
              <div className="muted">{study.strategy} · {study.trials}/{study.budget} · best {formatValue(study.best_value)}</div>
            </li>
          ))}
        </ul>
        {studies !== null && studies.length === 0 && <p className="muted">No studies yet: run a pipeline with an automl.tune node, or <code>tidal tune</code>.</p>}
      </aside>
      <section className="study-main">
        {detail ? <StudyView detail={detail} onStop={() => act('stop')} onResume={() => act('resume')} />
          : <p className="muted">Select a study to see its trials and charts.</p>}
      </section>
    </div>
  );
}
