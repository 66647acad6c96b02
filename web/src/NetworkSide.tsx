// The network editor's right-hand side: the selected layer's form (from its kind's schema), an input's shape,
// the network's problems; the generated code beside the canvas (editable: apply it back); importing a module file.
import { useEffect, useRef, useState } from 'react';
import type { JsonSchema } from './api';
import type { CheckShapes, LayerIssue, LayerKindInfo } from './networks';
import { parseShape, type NetNode } from './networkModel';
import { ParamForm } from './ParamForm';

export interface CodeState { text: string; className: string | null; edited: boolean; problem: string | null }

interface InspectorProps {
  node: NetNode | undefined;
  kind: LayerKindInfo | undefined;
  issues: LayerIssue[];
  allIssues: LayerIssue[];
  shapes: CheckShapes | null;
  counts: { layers: number; edges: number };
  onParam: (name: string, value: unknown) => void;
  onRename: (name: string) => string | null;
  onShape: (shape: (number | string)[], dtype: string) => void;
  onDelete: () => void;
}

function Rename({ value, onRename, testId }: { value: string; onRename: (name: string) => string | null; testId: string }) {
  const [text, setText] = useState(value);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => { setText(value); setProblem(null); }, [value]);
  const apply = () => { if (text !== value) setProblem(onRename(text)); };
  return (
    <div className="field">
      <label>Name</label>
      <input value={text} data-testid={testId} onChange={(event) => setText(event.target.value)} onBlur={apply}
        onKeyDown={(event) => { if (event.key === 'Enter') apply(); }} />
      {problem && <div className="problem">{problem}</div>}
    </div>
  );
}

function InputForm({ node, onShape }: { node: NetNode; onShape: (shape: (number | string)[], dtype: string) => void }) {
  const [text, setText] = useState((node.data.shape ?? []).join(', '));
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => { setText((node.data.shape ?? []).join(', ')); }, [node.data.shape]);
  const apply = (value: string, dtype = node.data.dtype ?? 'float32') => {
    const shape = parseShape(value);
    if (!shape) return setProblem('sizes and names separated by commas, e.g. batch, 30');
    setProblem(null);
    onShape(shape, dtype);
  };
  return (
    <>
      <div className="field">
        <label htmlFor="input-shape">Shape</label>
        <input id="input-shape" value={text} data-testid="input-shape" onChange={(event) => setText(event.target.value)}
          onBlur={() => apply(text)} onKeyDown={(event) => { if (event.key === 'Enter') apply(text); }} />
        <div className="help">numbers, or names for sizes that vary (batch, seq); the batch dim first</div>
        {problem && <div className="problem">{problem}</div>}
      </div>
      <div className="field">
        <label htmlFor="input-dtype">Data type</label>
        <select id="input-dtype" value={node.data.dtype ?? 'float32'} onChange={(event) => apply(text, event.target.value)}>
          {['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'bool'].map((name) => <option key={name}>{name}</option>)}
        </select>
      </div>
    </>
  );
}

/** The kind's schema with what inference found written into the inferred params' help. */
function formSchema(kind: LayerKindInfo, resolved: Record<string, unknown> | undefined): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [name, field] of Object.entries(kind.params_schema.properties ?? {})) {
    const found = resolved?.[name];
    properties[name] = kind.inferred.includes(name) && found !== undefined && found !== null
      ? { ...field, description: `${field.description ?? ''} (inferred: ${JSON.stringify(found)})`.trim() } : field;
  }
  return { ...kind.params_schema, properties };
}

export function NetworkInspector({ node, kind, issues, allIssues, shapes, counts, onParam, onRename, onShape, onDelete }: InspectorProps) {
  if (!node) {
    const general = allIssues;
    return (
      <div className="inspector" data-testid="network-summary">
        <h4>Network</h4>
        <p className="muted">{counts.layers} layers · {counts.edges} connections</p>
        {general.length === 0 ? <p className="ok" data-testid="net-no-issues">No problems: every shape fits.</p> : (
          <ul className="issue-list" data-testid="net-issue-list">{general.map((issue, index) => (
            <li key={index}><b>{issue.layer ?? issue.node ?? 'network'}</b>{issue.param ? ` · ${issue.param}` : ''}: {issue.message}
              {issue.hint ? <span className="muted"> — {issue.hint}</span> : null}</li>
          ))}</ul>
        )}
      </div>
    );
  }
  if (node.data.role === 'input') {
    return (
      <div className="inspector" data-testid="input-inspector">
        <h4>Input</h4>
        <Rename value={node.data.name} onRename={onRename} testId="node-name" />
        <InputForm node={node} onShape={onShape} />
        <button className="danger" onClick={onDelete}>Delete input</button>
      </div>
    );
  }
  if (node.data.role === 'output') {
    return (
      <div className="inspector">
        <h4>Output</h4>
        <Rename value={node.data.name} onRename={onRename} testId="node-name" />
        <p className="muted">{shapes?.outputs[node.data.name] ?? 'connect a layer to it'}</p>
        <button className="danger" onClick={onDelete}>Delete output</button>
      </div>
    );
  }
  const layerShapes = node.data.owner
    ? shapes?.layers[node.data.owner]?.module?.layers[node.data.name] : shapes?.layers[node.data.name];
  return (
    <div className="inspector" data-testid="layer-inspector">
      <h4>{node.data.kind} layer{node.data.owner ? ` in block ${node.data.block}` : ''}</h4>
      {kind && <p className="muted">{kind.summary}{kind.torch ? <> · <span className="mono">nn.{kind.torch}</span></> : null}</p>}
      {node.data.owner ? <p className="muted">Changing a parameter here changes the block for every layer that uses it.</p>
        : <Rename value={node.data.name} onRename={onRename} testId="node-name" />}
      {layerShapes && (
        <p className="mono shapes" data-testid="layer-shapes">
          {layerShapes.inputs.map((item) => item.shape).join(', ') || '—'} → {Object.values(layerShapes.outputs).join(', ') || '?'}
        </p>
      )}
      {issues.map((issue, index) => (
        <div key={index} className="problem" data-testid="layer-problem">{issue.param ? `${issue.param}: ` : issue.port ? `${issue.port}: ` : ''}
          {issue.message}{issue.hint ? ` — ${issue.hint}` : ''}</div>
      ))}
      {kind ? (
        <ParamForm schema={formSchema(kind, layerShapes?.params)} values={node.data.params ?? {}} columnsOf={() => null}
          issues={issues.map((issue) => ({ code: issue.code, message: issue.message, param: issue.param }))} onChange={onParam} />
      ) : <p className="problem">unknown layer kind {node.data.kind}</p>}
      {!node.data.owner && <button className="danger" onClick={onDelete} data-testid="layer-delete">Delete layer</button>}
    </div>
  );
}

/** A layer kind's docs, for a click on its palette entry. */
export function KindDocs({ kind, onClose }: { kind: LayerKindInfo; onClose: () => void }) {
  const properties = kind.params_schema.properties ?? {};
  return (
    <div className="docs" data-testid="kind-docs">
      <div className="output-bar"><h3>{kind.name}</h3><span className="spacer" /><button onClick={onClose}>×</button></div>
      <p>{kind.summary}{kind.torch ? <> · <span className="mono">nn.{kind.torch}</span></> : null}</p>
      <h4>Inputs</h4>
      <p className="mono">{kind.nested ? "the block's inputs" : kind.inputs.map((port) => `${port.name}${port.variadic ? '...' : ''}${port.optional ? '?' : ''}`).join(', ')}</p>
      <h4>Outputs</h4>
      <p className="mono">{kind.nested ? "the block's outputs" : kind.numbered_outputs ? 'numbered: .0, .1, ...' : kind.outputs.join(', ')}</p>
      <h4>Parameters</h4>
      {Object.keys(properties).length === 0 ? <p className="muted">none</p> : (
        <ul className="kind-params">{Object.entries(properties).map(([name, field]) => (
          <li key={name}><b className="mono">{name}</b>{kind.required.includes(name) ? <span className="required"> (required)</span>
            : kind.inferred.includes(name) ? <span className="muted"> (inferred)</span> : field.default !== undefined ? <span className="muted"> = {JSON.stringify(field.default)}</span> : null}
          {field.description ? <div className="muted">{field.description}</div> : null}</li>
        ))}</ul>
      )}
      <p className="muted">Drag the entry onto the canvas to add this layer.</p>
    </div>
  );
}

interface CodeProps {
  code: CodeState;
  onEdit: (text: string) => void;
  onApply: () => void;
  onDiscard: () => void;
  busy: boolean;
  canImport: boolean;
}

export function CodeView({ code, onEdit, onApply, onDiscard, busy, canImport }: CodeProps) {
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => { if (!code.edited && box.current) box.current.scrollTop = 0; }, [code.text, code.edited]);  // new code: from its top
  return (
    <div className="net-code" data-testid="net-code-panel">
      <div className="output-bar">
        <strong>PyTorch</strong>
        <span className="muted">{code.edited ? 'edited: apply it to the canvas' : 'generated from the canvas'}</span>
        <span className="spacer" />
        {code.edited && <button onClick={onDiscard} data-testid="code-discard">Discard</button>}
        <button className="primary" onClick={onApply} disabled={!code.edited || busy || !canImport} data-testid="code-apply"
          title={canImport ? 'read this code back into the canvas (runs it in a worker process)' : 'this Studio does not import code (see the docs)'}>
          {busy ? 'Importing…' : 'Apply to canvas'}</button>
      </div>
      {code.problem && <div className="problem" data-testid="code-problem">{code.problem}</div>}
      <textarea ref={box} className="code code-edit" spellCheck={false} value={code.text} data-testid="code-view"
        onChange={(event) => onEdit(event.target.value)} />
    </div>
  );
}

interface ImportProps {
  canImport: boolean;
  busy: boolean;
  onImport: (source: string, className: string, shapes: string) => void;
}

export function ImportBox({ canImport, busy, onImport }: ImportProps) {
  const [open, setOpen] = useState(false);
  const [source, setSource] = useState('');
  const [className, setClassName] = useState('');
  const [shapes, setShapes] = useState('2, 4');
  const guess = (text: string) => {
    const found = [...text.matchAll(/^class\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(/gm)].map((match) => match[1]);
    if (found.length && !className) setClassName(found[found.length - 1]);
  };
  return (
    <div className="net-import" data-testid="import-box">
      <button className="group-head" onClick={() => setOpen(!open)} data-testid="import-toggle">
        Import a PyTorch module <span className="chevron">{open ? '▾' : '▸'}</span></button>
      {open && (canImport ? (
        <div>
          <p className="muted">Paste a .py file or choose one; its class is built with no arguments and traced on zero tensors
            of the shapes below. The code runs in a worker process, never in the Studio.</p>
          <input type="file" accept=".py,text/x-python" data-testid="import-file" onChange={(event) => {
            const file = event.target.files?.[0];
            if (file) file.text().then((text) => { setSource(text); guess(text); });
          }} />
          <textarea className="code-edit small" placeholder="import torch&#10;from torch import nn&#10;&#10;class Net(nn.Module): ..."
            value={source} onChange={(event) => { setSource(event.target.value); guess(event.target.value); }} data-testid="import-source" />
          <label>Class<input value={className} onChange={(event) => setClassName(event.target.value)} data-testid="import-class" /></label>
          <label>Example inputs (one per line, batch first; add int64 for token ids)
            <textarea className="small-lines" value={shapes} onChange={(event) => setShapes(event.target.value)} data-testid="import-shapes" /></label>
          <button className="primary" disabled={busy || !source.trim() || !className} data-testid="import-run"
            onClick={() => onImport(source, className, shapes)}>{busy ? 'Importing…' : 'Import: replace the canvas'}</button>
        </div>
      ) : (
        <p className="muted" data-testid="import-refused">This Studio is reachable from other machines and was started without
          --allow-code: importing a module (which runs its code) is off. Use <span className="mono">tidal nn import FILE CLASS --trust</span> and open the YAML.</p>
      ))}
    </div>
  );
}

/** "2, 4\n2, 16 int64" -> example inputs; null when a line is not sizes. */
export function parseExamples(text: string): { shape: number[]; dtype: string }[] | null {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  const out: { shape: number[]; dtype: string }[] = [];
  for (const line of lines) {
    const dtype = /\bint64\b/.test(line) ? 'int64' : 'float32';
    const sizes = line.replace(/\b(int64|float32)\b/g, '').split(/[,\sx]+/).filter(Boolean).map(Number);
    if (!sizes.length || sizes.some((size) => !Number.isInteger(size) || size < 1)) return null;
    out.push({ shape: sizes, dtype });
  }
  return out.length ? out : null;
}
