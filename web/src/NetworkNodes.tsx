// The network canvas's nodes: an input, a layer (a block when unfolded) and an output. Memoised: dragging or
// editing one layer of a 500-layer network redraws that layer, not the others.
import { Handle, Position, type NodeProps } from '@xyflow/react';
import { createContext, memo, useContext } from 'react';
import type { CheckShapes, LayerIssue, LayerKindInfo } from './networks';
import { inputSlots, paramSummary, type NetNode } from './networkModel';

export interface NetCanvasState {
  kinds: Map<string, LayerKindInfo>;
  shapes: CheckShapes | null;
  issues: Map<string, LayerIssue[]>;
  modules: Record<string, Record<string, unknown>>;
  /** input slots in use per layer node */
  used: Map<string, number>;
  ports: (node: NetNode | undefined) => string[];
  toggleFold: (id: string) => void;
}
export const NetCanvasContext = createContext<NetCanvasState>({
  kinds: new Map(), shapes: null, issues: new Map(), modules: {}, used: new Map(), ports: () => [], toggleFold: () => undefined,
});

const spread = (index: number, count: number) => `${((index + 1) / (count + 1)) * 100}%`;

function IssueText({ id, issues }: { id: string; issues: LayerIssue[] }) {
  if (!issues.length) return null;
  const [first] = issues;
  const where = first.param ?? first.port;
  return (
    <div className="net-issue" data-testid={`issue-${id}`} title={issues.map((item) => `${item.message}${item.hint ? `; ${item.hint}` : ''}`).join('\n')}>
      ⚠ {where ? `${where}: ` : ''}{first.message}{issues.length > 1 ? ` (+${issues.length - 1})` : ''}
    </div>
  );
}

export const LayerNodeView = memo(function LayerNodeView({ id, data, selected }: NodeProps<NetNode>) {
  const state = useContext(NetCanvasContext);
  const kind = state.kinds.get(data.kind ?? '');
  const mine = state.issues.get(id) ?? [];
  const block = kind?.nested && typeof data.params?.network === 'string' ? state.modules[data.params.network as string] : undefined;
  const blockInputs = block ? Object.keys((block.inputs ?? {}) as Record<string, unknown>).length : kind?.nested ? 1 : undefined;
  const slots = inputSlots(kind, state.used.get(id) ?? 0, blockInputs);
  const outputs = state.ports({ id, data } as NetNode);
  return (
    <div className={`net-node layer ${selected ? 'selected' : ''} ${mine.length ? 'has-issues' : ''} ${data.unfolded ? 'unfolded' : ''} ${data.owner ? 'inner' : ''}`}
      data-testid={`layer-${id}`}>
      {slots.map((name, index) => (
        <Handle key={`in-${index}`} type="target" position={Position.Top} id={`i${index}`} style={{ left: spread(index, slots.length) }}
          isConnectable={!data.owner}
          title={name} data-testid={`in-${id}-${index}`} />
      ))}
      <div className="net-head">
        <span className={`node-category cat-nn-${kind?.category ?? 'unknown'}`}>{data.kind}</span>
        <span className="net-name" title={id}>{data.name}</span>
        {block && !data.owner && (
          <button className="fold" onClick={(event) => { event.stopPropagation(); state.toggleFold(id); }} data-testid={`fold-${id}`}
            title={data.unfolded ? 'fold the block' : 'show the layers of the block'}>{data.unfolded ? '▾ fold' : '▸ unfold'}</button>
        )}
      </div>
      <div className="net-params mono">{kind ? '' : 'unknown kind · '}{paramSummary(data.params)}</div>
      <IssueText id={id} issues={mine} />
      {outputs.map((port, index) => (
        <Handle key={`out-${port}`} type="source" position={Position.Bottom} id={port} style={{ left: spread(index, outputs.length) }}
          isConnectable={!data.owner}
          title={port} data-testid={`out-${id}-${port}`} />
      ))}
    </div>
  );
});

export const InputNodeView = memo(function InputNodeView({ id, data, selected }: NodeProps<NetNode>) {
  const state = useContext(NetCanvasContext);
  const shape = state.shapes?.inputs[data.name] ?? `[${(data.shape ?? []).join(', ')}]`;
  const mine = state.issues.get(id) ?? [];
  return (
    <div className={`net-node input ${selected ? 'selected' : ''} ${mine.length ? 'has-issues' : ''}`} data-testid={`input-${id}`}>
      <div className="net-head"><span className="node-category net-io">input</span><span className="net-name">{data.name}</span></div>
      <div className="net-params mono">{shape}{data.dtype && data.dtype !== 'float32' ? ` ${data.dtype}` : ''}</div>
      <IssueText id={id} issues={mine} />
      <Handle type="source" position={Position.Bottom} id="output" data-testid={`out-${id}-output`} />
    </div>
  );
});

export const OutputNodeView = memo(function OutputNodeView({ id, data, selected }: NodeProps<NetNode>) {
  const state = useContext(NetCanvasContext);
  const shape = state.shapes?.outputs[data.name];
  return (
    <div className={`net-node output ${selected ? 'selected' : ''}`} data-testid={`output-${data.name}`}>
      <Handle type="target" position={Position.Top} id="i0" data-testid={`in-${id}-0`} />
      <div className="net-head"><span className="node-category net-io">output</span><span className="net-name">{data.name}</span></div>
      <div className="net-params mono">{shape ?? 'not connected'}</div>
    </div>
  );
});

// not 'input' and 'output': React Flow styles its own node types of those names
export const netNodeTypes = { netInput: InputNodeView, layer: LayerNodeView, netOutput: OutputNodeView };
