import { createContext, useContext } from 'react';
import type { ComponentSummary, Issue, NodeRun } from './api';

export interface CanvasState {
  specs: Map<string, ComponentSummary>;
  statuses: Record<string, string>;
  issues: Issue[];
  runNodes: Record<string, NodeRun>;
  openOutput: (node: string, port: string) => void;
}

export const CanvasContext = createContext<CanvasState>({
  specs: new Map(), statuses: {}, issues: [], runNodes: {}, openOutput: () => undefined,
});
export const useCanvas = () => useContext(CanvasContext);
