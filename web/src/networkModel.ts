// A network file's structure (tidal-nn: 1) <-> React Flow nodes and edges, and the small rules of the canvas.
// Inputs, layers and outputs are nodes; an edge feeds input slot i of a layer (handle `i<index>`) or an output.
import dagre from '@dagrejs/dagre';
import type { Edge, Node } from '@xyflow/react';
import { cycleProblem } from './model';
import type { CheckShapes, LayerKindInfo, NetworkDict } from './networks';

export type Role = 'input' | 'layer' | 'output';
export interface NetNodeData extends Record<string, unknown> {
  role: Role;
  /** the name as the file writes it: a layer id, an input or output name */
  name: string;
  kind?: string;
  params?: Record<string, unknown>;
  /** other keys of the layer (title, x-...) */
  rest?: Record<string, unknown>;
  shape?: (number | string)[];
  dtype?: string;
  /** a layer inside an unfolded block: the module layer that shows it, and the block's name */
  owner?: string;
  block?: string;
  unfolded?: boolean;
}
export type NetNode = Node<NetNodeData>;
export interface NetEdgeData extends Record<string, unknown> { inner?: boolean }
export type NetEdge = Edge<NetEdgeData>;
export interface NetworkMeta { name: string; rest: Record<string, unknown> }

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 58;
const TOP_KEYS = new Set(['tidal-nn', 'name', 'inputs', 'layers', 'outputs', 'modules', 'layout']);
const LAYER_KEYS = new Set(['id', 'kind', 'inputs', 'params']);
export const outputNodeId = (name: string) => `out:${name}`;
export const nodeType = (role: Role) => (role === 'layer' ? 'layer' : role === 'input' ? 'netInput' : 'netOutput');

export function splitRef(ref: string): { node: string; port: string | null } {
  const dot = ref.indexOf('.');
  return dot < 0 ? { node: ref, port: null } : { node: ref.slice(0, dot), port: ref.slice(dot + 1) };
}

/** The output ports of a layer node: the kind's, or what shape inference found (split, modules). */
export function outputPorts(node: NetNode | undefined, kinds: Map<string, LayerKindInfo>, shapes: CheckShapes | null,
  modules: Record<string, Record<string, unknown>>): string[] {
  if (!node || node.data.role === 'output') return [];
  if (node.data.role === 'input') return ['output'];
  const found = shapes?.layers[node.data.name]?.outputs;
  if (found && Object.keys(found).length) return Object.keys(found);
  const kind = kinds.get(node.data.kind ?? '');
  if (kind?.nested) {
    const block = modules[String(node.data.params?.network ?? '')];
    const outputs = block?.outputs;
    if (outputs && typeof outputs === 'object') {
      return Array.isArray(outputs) ? outputs.map((ref) => String(ref).replace('.', '_')) : Object.keys(outputs);
    }
  }
  return kind && kind.outputs.length ? kind.outputs : ['0'];
}

/** How many input slots a layer node shows: every port, and one free slot more for variadic kinds. */
export function inputSlots(kind: LayerKindInfo | undefined, connected: number, blockInputs?: number): string[] {
  if (blockInputs !== undefined) return Array.from({ length: Math.max(blockInputs, 1) }, (_, index) => `in${index}`);
  if (!kind) return Array.from({ length: Math.max(connected, 1) }, (_, index) => `x${index}`);
  const names: string[] = [];
  for (const port of kind.inputs) {
    if (port.variadic) {
      for (let index = 0; index <= connected - names.length; index += 1) names.push(`${port.name}${index}`);
      break;
    }
    names.push(port.name);
  }
  return names;
}

export function slotIndex(handle: string | null | undefined): number {
  return handle && handle.startsWith('i') ? Number(handle.slice(1)) : 0;
}

export function fromSpec(data: NetworkDict, ports: (node: NetNode | undefined, modules: Record<string, Record<string, unknown>>) => string[]): { meta: NetworkMeta; nodes: NetNode[]; edges: NetEdge[]; modules: Record<string, Record<string, unknown>> } {
  const layout = (data.layout ?? {}) as Record<string, number[]>;
  const meta: NetworkMeta = { name: String(data.name ?? 'untitled-network'), rest: {} };
  for (const [key, value] of Object.entries(data)) if (!TOP_KEYS.has(key)) meta.rest[key] = value;
  const nodes: NetNode[] = [];
  const edges: NetEdge[] = [];
  const wiring: [string, string, string][] = [];  // ref, target node, target handle
  const at = (key: string) => (layout[key] ? { x: layout[key][0], y: layout[key][1] } : null);
  const placed = new Set<string>();
  const add = (id: string, data: NetNodeData) => {
    const position = at(id);
    if (position) placed.add(id);
    nodes.push({ id, type: nodeType(data.role), position: position ?? { x: 0, y: 0 }, data });
  };
  for (const [name, tensor] of Object.entries((data.inputs ?? {}) as Record<string, { shape?: (number | string)[]; dtype?: string }>)) {
    add(name, { role: 'input', name, shape: tensor.shape ?? [], dtype: tensor.dtype ?? 'float32' });
  }
  for (const raw of (data.layers ?? []) as Record<string, unknown>[]) {
    const id = String(raw.id);
    const rest: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) if (!LAYER_KEYS.has(key)) rest[key] = value;
    add(id, { role: 'layer', name: id, kind: String(raw.kind), params: { ...((raw.params ?? {}) as Record<string, unknown>) }, rest });
    ((raw.inputs ?? []) as string[]).forEach((ref, index) => wiring.push([ref, id, `i${index}`]));
  }
  const outputs = data.outputs ?? {};
  const named: [string, string][] = Array.isArray(outputs)
    ? (outputs as string[]).map((ref) => [ref.replace('.', '_'), ref]) : Object.entries(outputs as Record<string, string>);
  for (const [name, ref] of named) {
    add(outputNodeId(name), { role: 'output', name });
    wiring.push([ref, outputNodeId(name), 'i0']);
  }
  const modules = { ...((data.modules ?? {}) as Record<string, Record<string, unknown>>) };
  const byId = new Map(nodes.map((node) => [node.id, node]));
  for (const [ref, target, handle] of wiring) edges.push(refEdge(ref, target, handle, (id) => ports(byId.get(id), modules)));
  const unplaced = new Set(nodes.filter((node) => !placed.has(node.id)).map((node) => node.id));
  return { meta, nodes: unplaced.size ? layoutNetwork(nodes, edges, unplaced.size === nodes.length ? undefined : unplaced) : nodes, edges, modules };
}

export function refEdge(ref: string, target: string, targetHandle: string, ports: (id: string) => string[], inner = false): NetEdge {
  const { node, port } = splitRef(ref);
  const handle = port ?? ports(node)[0] ?? 'output';
  return { id: `${target}:${targetHandle}`, source: node, sourceHandle: handle, target, targetHandle, data: inner ? { inner } : {} };
}

/** The ref an edge stands for: the layer (its first output) or layer.port. */
export function edgeRef(edge: NetEdge, nodes: Map<string, NetNode>, ports: (node: NetNode | undefined) => string[]): string {
  const source = nodes.get(edge.source);
  const name = source?.data.name ?? edge.source;
  if (!edge.sourceHandle || source?.data.role === 'input') return name;
  const known = ports(source);
  // a handle the layer no longer has (its ports became known from shape inference) stands for its first output
  return edge.sourceHandle === known[0] || !known.includes(edge.sourceHandle) ? name : `${name}.${edge.sourceHandle}`;
}

export function toSpec(meta: NetworkMeta, nodes: NetNode[], edges: NetEdge[], modules: Record<string, Record<string, unknown>>,
  ports: (node: NetNode | undefined) => string[], withLayout = true): NetworkDict {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const incoming = new Map<string, NetEdge[]>();
  for (const edge of edges) {
    if (edge.data?.inner) continue;
    if (!incoming.has(edge.target)) incoming.set(edge.target, []);
    incoming.get(edge.target)!.push(edge);
  }
  const inputs: Record<string, unknown> = {};
  const layers: Record<string, unknown>[] = [];
  const outputs: Record<string, string> = {};
  const layout: Record<string, number[]> = {};
  for (const node of nodes) {
    if (node.data.owner) continue;
    const { role, name } = node.data;
    if (withLayout) layout[role === 'layer' || role === 'input' ? name : node.id] = [Math.round(node.position.x), Math.round(node.position.y)];
    const feeding = (incoming.get(node.id) ?? []).sort((a, b) => slotIndex(a.targetHandle) - slotIndex(b.targetHandle));
    if (role === 'input') {
      inputs[name] = node.data.dtype && node.data.dtype !== 'float32' ? { shape: node.data.shape, dtype: node.data.dtype } : { shape: node.data.shape };
    } else if (role === 'layer') {
      const entry: Record<string, unknown> = { id: name, kind: node.data.kind };
      const refs = feeding.map((edge) => edgeRef(edge, byId, ports));
      if (refs.length) entry.inputs = refs;
      if (node.data.params && Object.keys(node.data.params).length) entry.params = node.data.params;
      Object.assign(entry, node.data.rest ?? {});
      layers.push(entry);
    } else if (feeding.length) {
      outputs[name] = edgeRef(feeding[0], byId, ports);
    }
  }
  const data: Record<string, unknown> = { 'tidal-nn': 1, name: meta.name };
  const { description, ...others } = meta.rest;
  if (description !== undefined) data.description = description;
  Object.assign(data, { inputs, layers, outputs });
  if (Object.keys(modules).length) data.modules = modules;
  if (withLayout && Object.keys(layout).length) data.layout = layout;
  Object.assign(data, others);
  return data as NetworkDict;
}

/** Edges into each layer renumbered i0, i1, ... in order, after some were removed: the canvas shows what the file says. */
export function compactSlots(edges: NetEdge[]): NetEdge[] {
  const byTarget = new Map<string, NetEdge[]>();
  for (const edge of edges) {
    if (edge.data?.inner) continue;
    if (!byTarget.has(edge.target)) byTarget.set(edge.target, []);
    byTarget.get(edge.target)!.push(edge);
  }
  const renamed = new Map<NetEdge, NetEdge>();
  for (const [target, feeding] of byTarget) {
    feeding.sort((a, b) => slotIndex(a.targetHandle) - slotIndex(b.targetHandle)).forEach((edge, index) => {
      if (slotIndex(edge.targetHandle) !== index) renamed.set(edge, { ...edge, id: `${target}:i${index}`, targetHandle: `i${index}` });
    });
  }
  return renamed.size ? edges.map((edge) => renamed.get(edge) ?? edge) : edges;
}

export function freshName(base: string, taken: Set<string>): string {
  const clean = base.replace(/[^A-Za-z0-9_]/g, '_');
  if (!taken.has(clean)) return clean;
  let index = 2;
  while (taken.has(`${clean}_${index}`)) index += 1;
  return `${clean}_${index}`;
}

/** Why an edge from ``source`` into slot ``handle`` of ``target`` cannot be drawn; null when it can. */
export function connectionProblem(source: string, target: string, handle: string | null | undefined, nodes: NetNode[], edges: NetEdge[]): string | null {
  if (source === target) return 'a layer cannot feed itself';
  const to = nodes.find((node) => node.id === target);
  const from = nodes.find((node) => node.id === source);
  if (!to || !from || to.data.role === 'input' || from.data.role === 'output') return 'connect an output (bottom) to an input (top)';
  if (to.data.owner || from.data.owner) return 'layers inside a block are edited through the block; fold it to connect';
  const index = slotIndex(handle);
  const filled = edges.filter((edge) => edge.target === target && edge.targetHandle !== handle && !edge.data?.inner).length;
  if (index > filled) return `connect ${target}'s earlier inputs first (inputs are in port order)`;
  return cycleProblem(source, target, edges);
}

/** Top-to-bottom positions for ``nodes`` (all, or only those in ``only``), as dagre places them. */
export function layoutNetwork<T extends { id: string; position: { x: number; y: number }; width?: number; height?: number }>(
  nodes: T[], edges: { source: string; target: string }[], only?: Set<string>): T[] {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'TB', nodesep: 36, ranksep: 58, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) graph.setNode(node.id, { width: node.width ?? NODE_WIDTH, height: node.height ?? NODE_HEIGHT });
  const ids = new Set(nodes.map((node) => node.id));
  for (const edge of edges) if (ids.has(edge.source) && ids.has(edge.target)) graph.setEdge(edge.source, edge.target);
  dagre.layout(graph);
  return nodes.map((node) => {
    if (only && !only.has(node.id)) return node;
    const placed = graph.node(node.id);
    return { ...node, position: { x: Math.round(placed.x - placed.width / 2), y: Math.round(placed.y - placed.height / 2) } };
  });
}

/** "batch, 30" -> ["batch", 30]; null when a dim is neither a positive number nor a name. */
export function parseShape(text: string): (number | string)[] | null {
  const parts = text.split(/[,\s]+/).map((part) => part.trim()).filter(Boolean);
  if (!parts.length) return null;
  const dims: (number | string)[] = [];
  for (const part of parts) {
    if (/^\d+$/.test(part) && Number(part) >= 1) dims.push(Number(part));
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) dims.push(part);
    else return null;
  }
  return dims;
}

/** Example inputs for importing the generated code: symbol dims become small sizes (batch 2, others 8). */
export function exampleInputs(nodes: NetNode[]): { shape: number[]; dtype: string }[] {
  return nodes.filter((node) => node.data.role === 'input').map((node) => ({
    shape: (node.data.shape ?? []).map((dim) => (typeof dim === 'number' ? dim : dim === 'batch' ? 2 : 8)),
    dtype: node.data.dtype === 'int64' ? 'int64' : 'float32',
  }));
}

/** Positions for a block's layers inside its unfolded module node (relative to it), and the box they need. */
export function blockLayout(block: Record<string, unknown>): { positions: Map<string, { x: number; y: number }>; width: number; height: number } {
  const layers = (block.layers ?? []) as Record<string, unknown>[];
  const ids = new Set(layers.map((layer) => String(layer.id)));
  const edges: { source: string; target: string }[] = [];
  for (const layer of layers) {
    for (const ref of (layer.inputs ?? []) as string[]) {
      const { node } = splitRef(ref);
      if (ids.has(node)) edges.push({ source: node, target: String(layer.id) });
    }
  }
  const placed = layoutNetwork(layers.map((layer) => ({ id: String(layer.id), position: { x: 0, y: 0 } })), edges);
  const positions = new Map(placed.map((node) => [node.id, { x: node.position.x + 10, y: node.position.y + 40 }]));
  const width = Math.max(...placed.map((node) => node.position.x + NODE_WIDTH), NODE_WIDTH) + 40;
  const height = Math.max(...placed.map((node) => node.position.y + NODE_HEIGHT), NODE_HEIGHT) + 70;
  return { positions, width, height };
}

/** A short text of a layer's main params for its node (out 16, k 3). */
export function paramSummary(params: Record<string, unknown> | undefined): string {
  if (!params) return '';
  return Object.entries(params).slice(0, 3).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(' ');
}
