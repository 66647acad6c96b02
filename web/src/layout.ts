import dagre from '@dagrejs/dagre';
import type { ComponentSummary } from './api';
import type { StudioEdge, StudioNode } from './model';

/** Left-to-right positions for ``nodes`` (all, or only those in ``only``). */
export function autoLayout(nodes: StudioNode[], edges: StudioEdge[], specs: Map<string, ComponentSummary>, only?: Set<string>): StudioNode[] {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: 40, ranksep: 90, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    const spec = specs.get(node.data.component);
    const rows = Math.max(spec?.inputs.length ?? 1, spec?.outputs.length ?? 1, 1);
    graph.setNode(node.id, { width: 196, height: 60 + rows * 22 });
  }
  for (const edge of edges) graph.setEdge(edge.source, edge.target);
  dagre.layout(graph);
  return nodes.map((node) => {
    if (only && !only.has(node.id)) return node;
    const placed = graph.node(node.id);
    return {
      ...node,
      position: { x: Math.round(placed.x - placed.width / 2), y: Math.round(placed.y - placed.height / 2) },
      data: { ...node.data, placed: true, layout: null },
    };
  });
}
