// Undo and redo for the network editor: snapshots of the canvas (nodes, edges), the network's name and its blocks.
import { useCallback, useMemo, useRef, useState } from 'react';
import type { NetEdge, NetNode, NetworkMeta } from './networkModel';

export interface NetSnapshot { nodes: NetNode[]; edges: NetEdge[]; meta: NetworkMeta; modules: Record<string, Record<string, unknown>> }
const LIMIT = 100;

function strip(snapshot: NetSnapshot): NetSnapshot {
  return structuredClone({
    nodes: snapshot.nodes.map(({ id, type, position, data, parentId, extent, draggable, style, width, height }) =>
      ({ id, type, position, data, parentId, extent, draggable, style, width, height }) as NetNode),
    edges: snapshot.edges.map(({ id, source, sourceHandle, target, targetHandle, data }) => ({ id, source, sourceHandle, target, targetHandle, data })),
    meta: snapshot.meta,
    modules: snapshot.modules,
  });
}

export function useNetworkHistory(state: NetSnapshot, restore: (snapshot: NetSnapshot) => void) {
  const past = useRef<NetSnapshot[]>([]);
  const future = useRef<NetSnapshot[]>([]);
  const lastKey = useRef<{ key: string; time: number } | null>(null);
  const current = useRef(state);
  current.current = state;
  const [, setVersion] = useState(0);
  const bump = () => setVersion((value) => value + 1);

  /** Remember the state before a change; changes with the same ``key`` within a second count as one. */
  const commit = useCallback((key?: string) => {
    const now = Date.now();
    if (key && lastKey.current?.key === key && now - lastKey.current.time < 1000) {
      lastKey.current.time = now;
      return;
    }
    lastKey.current = key ? { key, time: now } : null;
    past.current = [...past.current.slice(-LIMIT), strip(current.current)];
    future.current = [];
    bump();
  }, []);
  const step = useCallback((from: React.MutableRefObject<NetSnapshot[]>, to: React.MutableRefObject<NetSnapshot[]>) => {
    const target = from.current.pop();
    if (!target) return;
    to.current.push(strip(current.current));
    lastKey.current = null;
    restore(target);
    bump();
  }, [restore]);
  const undo = useCallback(() => step(past, future), [step]);
  const redo = useCallback(() => step(future, past), [step]);
  const reset = useCallback(() => { past.current = []; future.current = []; lastKey.current = null; bump(); }, []);
  return useMemo(() => ({ commit, undo, redo, reset, canUndo: past.current.length > 0, canRedo: future.current.length > 0 }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [commit, undo, redo, reset, past.current.length, future.current.length]);
}
