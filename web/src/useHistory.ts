// Undo and redo over snapshots of the canvas (nodes and edges).
import { useCallback, useMemo, useRef, useState } from 'react';
import type { StudioEdge, StudioNode } from './model';

interface Snapshot { nodes: StudioNode[]; edges: StudioEdge[] }
const LIMIT = 200;

export function useHistory(
  nodes: StudioNode[], edges: StudioEdge[],
  setNodes: (nodes: StudioNode[]) => void, setEdges: (edges: StudioEdge[]) => void, onChange: () => void,
) {
  const past = useRef<Snapshot[]>([]);
  const future = useRef<Snapshot[]>([]);
  const lastKey = useRef<{ key: string; time: number } | null>(null);
  const current = useRef<Snapshot>({ nodes, edges });
  current.current = { nodes, edges };
  const [, setVersion] = useState(0);
  const bump = () => setVersion((value) => value + 1);

  /** Remember the state before a change; repeated changes with the same ``key`` within 1 s count as one. */
  const commit = useCallback((key?: string) => {
    const now = Date.now();
    if (key && lastKey.current && lastKey.current.key === key && now - lastKey.current.time < 1000) {
      lastKey.current.time = now;
      onChange();
      return;
    }
    lastKey.current = key ? { key, time: now } : null;
    past.current = [...past.current.slice(-LIMIT), structuredClone(strip(current.current))];
    future.current = [];
    onChange();
    bump();
  }, [onChange]);

  const undo = useCallback(() => {
    const previous = past.current.pop();
    if (!previous) return;
    future.current.push(structuredClone(strip(current.current)));
    setNodes(previous.nodes); setEdges(previous.edges);
    lastKey.current = null;
    onChange(); bump();
  }, [setNodes, setEdges, onChange]);

  const redo = useCallback(() => {
    const next = future.current.pop();
    if (!next) return;
    past.current.push(structuredClone(strip(current.current)));
    setNodes(next.nodes); setEdges(next.edges);
    lastKey.current = null;
    onChange(); bump();
  }, [setNodes, setEdges, onChange]);

  const reset = useCallback(() => { past.current = []; future.current = []; lastKey.current = null; bump(); }, []);

  return useMemo(() => ({ commit, undo, redo, reset, canUndo: past.current.length > 0, canRedo: future.current.length > 0 }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [commit, undo, redo, reset, past.current.length, future.current.length]);
}

function strip(snapshot: Snapshot): Snapshot {
  return {
    nodes: snapshot.nodes.map(({ id, type, position, data }) => ({ id, type, position, data }) as StudioNode),
    edges: snapshot.edges.map(({ id, source, sourceHandle, target, targetHandle, data }) => ({ id, source, sourceHandle, target, targetHandle, data })),
  };
}
