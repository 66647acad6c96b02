import { Handle, Position, type NodeProps } from '@xyflow/react';
import { useCanvas } from './context';
import type { StudioNode } from './model';

const ROW = 22;
const HEAD = 46;

export function StudioNodeView({ id, data, selected }: NodeProps<StudioNode>) {
  const { specs, statuses, issues, runNodes, openOutput } = useCanvas();
  const spec = specs.get(data.component);
  const status = statuses[id];
  const mine = issues.filter((issue) => issue.node === id);
  const inputs = spec?.inputs ?? [];
  const outputs = spec?.outputs ?? [];
  const rows = Math.max(inputs.length, outputs.length, 1);
  const produced = runNodes[id]?.outputs ?? {};
  const title = (data.rest.title as string | undefined) ?? spec?.title ?? data.component;
  return (
    <div
      className={`studio-node ${selected ? 'selected' : ''} ${mine.length ? 'has-issues' : ''} ${status ? `status-${status}` : ''}`}
      style={{ minHeight: HEAD + rows * ROW + 8 }}
      data-testid={`node-${id}`}
      data-status={status ?? ''}
      title={mine.map((issue) => `${issue.param ?? issue.port ?? ''} ${issue.message}`.trim()).join('\n')}
    >
      <div className="node-head">
        <span className={`node-category cat-${spec?.category ?? 'unknown'}`} title={spec?.category_title}>{spec?.category ?? '?'}</span>
        <span className="node-title" title={title}>{title}</span>
      </div>
      <div className="node-id">
        <span>{id}{spec ? '' : ` — unknown component ${data.component}`}</span>
        {mine.length > 0 && <span className="node-issues" data-testid={`issues-${id}`}>⚠ {mine.length} problem{mine.length > 1 ? 's' : ''}</span>}
        {status && <span className={`node-status status-${status}`} data-testid={`status-${id}`}>{status}</span>}
      </div>
      {inputs.map((port, index) => (
        <div key={`in-${port.name}`}>
          <Handle
            type="target" position={Position.Left} id={port.name}
            className={`port port-${port.type}`} style={{ top: HEAD + index * ROW + 11 }}
            data-testid={`in-${id}-${port.name}`}
          />
          <span className="port-label left" style={{ top: HEAD + index * ROW + 3 }}>{port.name}<em>{port.type}</em></span>
        </div>
      ))}
      {outputs.map((port, index) => (
        <div key={`out-${port.name}`}>
          <Handle
            type="source" position={Position.Right} id={port.name}
            className={`port port-${port.type}`} style={{ top: HEAD + index * ROW + 11 }}
            data-testid={`out-${id}-${port.name}`}
          />
          <span
            className={`port-label right ${produced[port.name] ? 'has-output' : ''}`}
            style={{ top: HEAD + index * ROW + 3 }}
            data-testid={`output-${id}-${port.name}`}
            onClick={(event) => { if (produced[port.name]) { event.stopPropagation(); openOutput(id, port.name); } }}
            title={produced[port.name] ? 'open this output' : port.type}
          >
            <em>{port.type}</em>{port.name}{produced[port.name] ? ' ▸' : ''}
          </span>
        </div>
      ))}
    </div>
  );
}
