// The right-hand panel: the selected node's parameters, problems and outputs, or a component's docs.
import { useEffect, useState } from 'react';
import { api, type Column, type ComponentDetail, type Issue, type NodeRun } from './api';
import { ParamForm } from './ParamForm';
import type { StudioEdge, StudioNode } from './model';

export function ComponentDocs({ detail }: { detail: ComponentDetail }) {
  return (
    <div className="docs" data-testid="component-docs">
      <h3>{detail.title}</h3>
      <div className="mono muted">{detail.id} · v{detail.version}</div>
      <pre className="docstring">{detail.description || detail.summary}</pre>
      <h4>Inputs</h4>
      {detail.inputs.length ? <ul>{detail.inputs.map((port) => <li key={port.name}><b>{port.name}</b> {port.type}{port.optional ? ' (optional)' : ''}{port.help ? ` — ${port.help}` : ''}</li>)}</ul> : <p className="muted">none</p>}
      <h4>Outputs</h4>
      <ul>{detail.outputs.map((port) => <li key={port.name}><b>{port.name}</b> {port.type}{port.help ? ` — ${port.help}` : ''}</li>)}</ul>
      <h4>Parameters</h4>
      <ul>{Object.entries(detail.params_schema.properties ?? {}).map(([name, field]) => (
        <li key={name}><b>{name}</b>{(detail.params_schema.required ?? []).includes(name) ? ' (required)' : ` = ${JSON.stringify(field.default)}`}{field.description ? ` — ${field.description}` : ''}</li>
      ))}</ul>
      {Object.keys(detail.tags).length > 0 && <><h4>Tags</h4><pre className="mono">{JSON.stringify(detail.tags)}</pre></>}
    </div>
  );
}

interface Props {
  node: StudioNode;
  edges: StudioEdge[];
  detail: ComponentDetail | undefined;
  pipelineName: string;
  issues: Issue[];
  run: NodeRun | undefined;
  runRefresh: number;
  onParam: (name: string, value: unknown) => void;
  onRunUntil: () => void;
  onRunFrom: () => void;
  onOpenOutput: (port: string) => void;
  onLog: () => void;
  onRename: (id: string) => string | null;
  onDelete: () => void;
}

function NodeIdField({ id, onRename }: { id: string; onRename: (id: string) => string | null }) {
  const [text, setText] = useState(id);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => { setText(id); setProblem(null); }, [id]);
  const apply = () => { if (text !== id) setProblem(onRename(text)); };
  return (
    <div className={`field node-id-field ${problem ? 'invalid' : ''}`}>
      <label htmlFor="node-id">Node id</label>
      <input id="node-id" value={text} onChange={(event) => setText(event.target.value)} onBlur={apply}
        onKeyDown={(event) => { if (event.key === 'Enter') apply(); }} />
      {problem && <div className="problem">{problem}</div>}
    </div>
  );
}

export function Inspector({ node, edges, detail, pipelineName, issues, run, runRefresh, onParam, onRunUntil, onRunFrom, onOpenOutput, onLog, onRename, onDelete }: Props) {
  const [columns, setColumns] = useState<Record<string, Column[]>>({});
  const [docs, setDocs] = useState(false);
  const tablePorts = (detail?.inputs ?? []).filter((port) => port.type === 'Table').map((port) => port.name);
  const sources = tablePorts.map((port) => {
    const edge = edges.find((item) => item.target === node.id && item.targetHandle === port);
    return { port, node: edge?.source ?? null, output: edge?.sourceHandle ?? 'output' };
  });
  const sourcesKey = JSON.stringify(sources);
  useEffect(() => {
    setColumns({});
    for (const source of sources) {
      if (!source.node) continue;
      api.columns(pipelineName, source.node, source.output)
        .then((found) => { if (found.columns.length) setColumns((current) => ({ ...current, [source.port]: found.columns })); })
        .catch(() => undefined);
    }
  }, [pipelineName, sourcesKey, runRefresh]); // eslint-disable-line react-hooks/exhaustive-deps
  const columnsOf = (target: string): Column[] | null => columns[target === '*' ? tablePorts[0] : target] ?? null;

  const nodeIssues = issues.filter((issue) => issue.node === node.id);
  return (
    <div className="inspector" data-testid="inspector">
      <div className="inspector-head">
        <h3>{(node.data.rest.title as string) ?? detail?.title ?? node.data.component}</h3>
        <div className="mono muted">{node.id} · {node.data.component}</div>
        <div className="button-row">
          <button onClick={onRunUntil} data-testid="run-until" title="run this node and what it needs">▶ Run up to here</button>
          <button onClick={onRunFrom} data-testid="run-from" title="recompute this node and everything after it">▶ Run from here</button>
          <button onClick={() => setDocs(!docs)}>{docs ? 'Parameters' : 'Docs'}</button>
          <button className="danger" onClick={onDelete} data-testid="delete-node">Delete</button>
        </div>
        <NodeIdField id={node.id} onRename={onRename} />
      </div>
      {nodeIssues.filter((issue) => !issue.param).map((issue, index) => (
        <div key={index} className="problem">{issue.port ? `${issue.port}: ` : ''}{issue.message}{issue.hint ? ` (${issue.hint})` : ''}</div>
      ))}
      {run && (
        <div className="node-run">
          <div>Last run: <span className={`pill status-${run.cached ? 'cached' : run.status}`}>{run.cached ? 'cached' : run.status}</span>
            {run.duration_s != null ? ` in ${run.duration_s.toFixed(2)} s` : ''} <button onClick={onLog} data-testid="show-log">Log</button></div>
          {run.error && <div className="problem">{run.error}</div>}
          <ul className="outputs">{Object.entries(run.outputs).map(([port, output]) => (
            <li key={port}><button onClick={() => onOpenOutput(port)} data-testid={`open-output-${port}`}>{port}</button> {output.type} · {(output.size_bytes / 1024).toFixed(1)} KiB</li>
          ))}</ul>
        </div>
      )}
      {!detail && <p className="muted">Loading the component…</p>}
      {detail && docs && <ComponentDocs detail={detail} />}
      {detail && !docs && (
        <ParamForm key={node.id} schema={detail.params_schema} values={node.data.params}
          issues={nodeIssues} onChange={onParam} columnsOf={columnsOf} />
      )}
    </div>
  );
}
