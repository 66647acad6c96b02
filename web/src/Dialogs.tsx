import { useEffect, useState } from 'react';
import { api, type PipelineFile } from './api';

export function OpenDialog({ onOpen, onClose, title = 'Open a pipeline', load = api.pipelines }: {
  onOpen: (path: string) => void; onClose: () => void; title?: string; load?: () => Promise<PipelineFile[]>;
}) {
  const [files, setFiles] = useState<PipelineFile[] | null>(null);
  useEffect(() => { load().then(setFiles); }, []); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <div className="modal-backdrop" onClick={onClose}>
      <div className="modal" onClick={(event) => event.stopPropagation()} data-testid="open-dialog">
        <h3>{title}</h3>
        {!files && <p className="muted">Looking for files…</p>}
        {files && files.length === 0 && <p className="muted">No such YAML files in this workspace yet.</p>}
        <ul className="file-list">
          {files?.map((file) => (
            <li key={file.path}>
              <button onClick={() => onOpen(file.path)} data-testid={`open-${file.path}`}>
                <span className="mono">{file.path}</span>
                <span className="muted"> · {file.name ?? '?'} · {file.nodes ?? '?'} nodes · {new Date(file.modified * 1000).toLocaleString()}</span>
                {file.error && <span className="problem"> · {file.error.split('\n')[0]}</span>}
              </button>
            </li>
          ))}
        </ul>
        <div className="modal-actions"><button onClick={onClose}>Cancel</button></div>
      </div>
    </div>
  );
}

export function SaveAsDialog({ initial, onSave, onClose, title = 'Save pipeline as' }: {
  initial: string; onSave: (path: string, overwrite: boolean) => Promise<string | null>; onClose: () => void; title?: string;
}) {
  const [path, setPath] = useState(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [exists, setExists] = useState(false);
  async function submit(overwrite: boolean) {
    const error = await onSave(path, overwrite);
    if (error === null) return onClose();
    setProblem(error);
    setExists(error.includes('already exists'));
  }
  return (
    <div className="modal-backdrop" onClick={onClose}>
      <div className="modal" onClick={(event) => event.stopPropagation()} data-testid="save-dialog">
        <h3>{title}</h3>
        <label>Path in the workspace
          <input value={path} onChange={(event) => { setPath(event.target.value); setExists(false); setProblem(null); }}
            data-testid="save-path" autoFocus onKeyDown={(event) => { if (event.key === 'Enter') submit(false); }} />
        </label>
        {problem && <div className="problem">{problem}</div>}
        <div className="modal-actions">
          <button onClick={onClose}>Cancel</button>
          {exists && <button className="danger" onClick={() => submit(true)}>Overwrite</button>}
          <button className="primary" onClick={() => submit(false)} data-testid="save-confirm">Save</button>
        </div>
      </div>
    </div>
  );
}
