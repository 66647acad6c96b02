// The pipeline file's structure <-> React Flow nodes and edges, keeping everything the file holds.
import type { Edge, Node } from '@xyflow/react';
import type { ComponentSummary, PipelineDict } from './api';

export interface NodeData extends Record<string, unknown> {
  component: string;
  params: Record<string, unknown>;
  /** every other key of the node in the file (title, cache, retries, timeout, x-...) */
  rest: Record<string, unknown>;
  /** input port order as in the file */
  inputOrder: string[];
  /** the file's layout entry while the node has not moved */
  layout: number[] | null;
  /** true when the node has a position worth saving (from the file, moved or placed by the user) */
  placed: boolean;
}
export type StudioNode = Node<NodeData, 'component'>;
export interface EdgeData extends Record<string, unknown> { ref: string }
export type StudioEdge = Edge<EdgeData>;

export interface PipelineMeta { name: string; rest: Record<string, unknown> }

const TOP_KEYS = new Set(['tidal', 'name', 'nodes', 'layout']);
const NODE_KEYS = new Set(['id', 'component', 'inputs', 'params']);

export function parseRef(text: string): { node: string; port: string | null } {
  const dot = text.indexOf('.');
  return dot < 0 ? { node: text, port: null } : { node: text.slice(0, dot), port: text.slice(dot + 1) };
}

export function fromPipeline(
  data: PipelineDict, specs: Map<string, ComponentSummary>,
): { meta: PipelineMeta; nodes: StudioNode[]; edges: StudioEdge[] } {
  const layout = (data.layout ?? {}) as Record<string, number[]>;
  const meta: PipelineMeta = { name: String(data.name ?? 'untitled'), rest: {} };
  for (const [key, value] of Object.entries(data)) if (!TOP_KEYS.has(key)) meta.rest[key] = value;
  const nodes: StudioNode[] = [];
  const edges: StudioEdge[] = [];
  const rawNodes = (data.nodes ?? []) as Record<string, unknown>[];
  const byId = new Map(rawNodes.map((raw) => [String(raw.id), raw]));
  rawNodes.forEach((raw, index) => {
    const id = String(raw.id);
    const rest: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) if (!NODE_KEYS.has(key)) rest[key] = value;
    const inputs = (raw.inputs ?? {}) as Record<string, string>;
    const position = layout[id];
    nodes.push({
      id,
      type: 'component',
      position: position ? { x: position[0], y: position[1] } : { x: 40 + 220 * index, y: 80 },
      data: {
        component: String(raw.component), params: { ...((raw.params ?? {}) as Record<string, unknown>) }, rest,
        inputOrder: Object.keys(inputs), layout: position ? [...position] : null, placed: Boolean(position),
      },
    });
    for (const [port, ref] of Object.entries(inputs)) {
      const { node: source, port: sourcePort } = parseRef(ref);
      const sourceRaw = byId.get(source);
      const sourceSpec = sourceRaw ? specs.get(String(sourceRaw.component)) : undefined;
      const handle = sourcePort ?? sourceSpec?.outputs[0]?.name ?? 'output';
      edges.push(makeEdge(source, handle, id, port, ref));
    }
  });
  return { meta, nodes, edges };
}

export function makeEdge(source: string, sourceHandle: string, target: string, targetHandle: string, ref: string): StudioEdge {
  return { id: `${target}:${targetHandle}`, source, sourceHandle, target, targetHandle, data: { ref } };
}

export function refFor(edge: StudioEdge, specs: Map<string, ComponentSummary>, nodes: StudioNode[]): string {
  const sourceNode = nodes.find((n) => n.id === edge.source);
  const spec = sourceNode ? specs.get(sourceNode.data.component) : undefined;
  const previous = edge.data?.ref;
  if (previous) {
    const parsed = parseRef(previous);
    const resolved = parsed.port ?? spec?.outputs[0]?.name ?? 'output';
    if (parsed.node === edge.source && resolved === edge.sourceHandle) return previous;
  }
  return spec && spec.outputs.length === 1 ? edge.source : `${edge.source}.${edge.sourceHandle}`;
}

export function toPipeline(meta: PipelineMeta, nodes: StudioNode[], edges: StudioEdge[], specs: Map<string, ComponentSummary>): PipelineDict {
  const out: Record<string, unknown>[] = [];
  const layout: Record<string, number[]> = {};
  for (const node of nodes) {
    const entry: Record<string, unknown> = { id: node.id, component: node.data.component };
    const incoming = edges.filter((edge) => edge.target === node.id);
    const order = [...node.data.inputOrder, ...incoming.map((e) => e.targetHandle ?? '').filter((p) => !node.data.inputOrder.includes(p))];
    const inputs: Record<string, string> = {};
    for (const port of order) {
      const edge = incoming.find((e) => e.targetHandle === port);
      if (edge) inputs[port] = refFor(edge, specs, nodes);
    }
    if (Object.keys(inputs).length) entry.inputs = inputs;
    if (Object.keys(node.data.params).length) entry.params = node.data.params;
    Object.assign(entry, node.data.rest);
    out.push(entry);
    if (node.data.placed) layout[node.id] = node.data.layout ?? [Math.round(node.position.x), Math.round(node.position.y)];
  }
  const data: Record<string, unknown> = { tidal: 1, name: meta.name };
  const { description, ...others } = meta.rest;
  if (description !== undefined) data.description = description;
  data.nodes = out;
  if (Object.keys(layout).length) data.layout = layout;
  Object.assign(data, others);
  return data as PipelineDict;
}

export function freshId(base: string, taken: Set<string>): string {
  if (!taken.has(base)) return base;
  let index = 2;
  while (taken.has(`${base}_${index}`)) index += 1;
  return `${base}_${index}`;
}

/** Why output ``sourceHandle`` of ``source`` cannot feed input ``targetHandle`` of ``target``; null when it can. */
export function connectionProblem(
  source: string, sourceHandle: string | null, target: string, targetHandle: string | null,
  nodes: StudioNode[], edges: StudioEdge[], specs: Map<string, ComponentSummary>,
): string | null {
  if (source === target) return 'a node cannot feed its own input';
  const from = nodes.find((n) => n.id === source);
  const to = nodes.find((n) => n.id === target);
  const out = from && specs.get(from.data.component)?.outputs.find((p) => p.name === sourceHandle);
  const input = to && specs.get(to.data.component)?.inputs.find((p) => p.name === targetHandle);
  if (!out || !input) return 'connect an output port (right side) to an input port (left side)';
  if (out.type !== input.type) {
    return `type mismatch: ${source}.${out.name} is a ${out.type}, but ${target}.${input.name} takes a ${input.type}`;
  }
  return cycleProblem(source, target, edges);
}

/** Why an edge from ``source`` to ``target`` would close a cycle (``target`` already reaches ``source``); null if not. */
export function cycleProblem(source: string, target: string, edges: { source: string; target: string }[]): string | null {
  const stack = [target];
  const seen = new Set<string>();
  while (stack.length) {
    const current = stack.pop()!;
    if (current === source) return `connecting ${source} to ${target} would make a cycle`;
    if (seen.has(current)) continue;
    seen.add(current);
    for (const edge of edges) if (edge.source === current) stack.push(edge.target);
  }
  return null;
}
