import { describe, expect, it } from 'vitest';
import type { ComponentSummary, PipelineDict } from '../src/api';
import { connectionProblem, fromPipeline, makeEdge, toPipeline } from '../src/model';

const port = (name: string, type: string) => ({ name, type, optional: false });
const spec = (id: string, inputs: [string, string][], outputs: [string, string][]): ComponentSummary => ({
  id, title: id, category: id.split('.')[0], summary: '', version: '1',
  inputs: inputs.map(([n, t]) => port(n, t)), outputs: outputs.map(([n, t]) => port(n, t)),
});
const specs = new Map([
  spec('io.read_csv', [], [['output', 'Table']]),
  spec('data.split', [['data', 'Table']], [['train', 'Table'], ['test', 'Table']]),
  spec('classification.logistic_regression', [['data', 'Table']], [['output', 'Model']]),
  spec('model.predict', [['model', 'Model'], ['data', 'Table']], [['output', 'Table']]),
].map((item) => [item.id, item]));

const demo: PipelineDict = {
  tidal: 1, name: 'demo', description: 'kept',
  nodes: [
    { id: 'read', component: 'io.read_csv', title: 'Raw', params: { path: 'data/x.csv' }, cache: false, 'x-note': 1 },
    { id: 'split', component: 'data.split', inputs: { data: 'read.output' }, params: { fraction: 0.8 } },
    { id: 'train', component: 'classification.logistic_regression', inputs: { data: 'split.train' }, params: { label: 'y' } },
    { id: 'score', component: 'model.predict', inputs: { model: 'train', data: 'split.test' } },
  ],
  layout: { read: [40, 120], split: [260.5, 120] },
  'x-owner': 'team',
};

describe('pipeline <-> canvas', () => {
  it('round-trips a file unchanged', () => {
    const { meta, nodes, edges } = fromPipeline(demo, specs);
    expect(edges).toHaveLength(4);
    expect(toPipeline(meta, nodes, edges, specs)).toEqual(demo);
  });

  it('writes new connections in the short form and positions of placed nodes only', () => {
    const { meta, nodes, edges } = fromPipeline(demo, specs);
    const moved = nodes.map((node) => (node.id === 'train' ? { ...node, position: { x: 500.4, y: 60.6 }, data: { ...node.data, placed: true, layout: null } } : node));
    const rewired = [...edges.filter((edge) => edge.target !== 'score' || edge.targetHandle !== 'model'), makeEdge('train', 'output', 'score', 'model', '')];
    const out = toPipeline(meta, moved, rewired, specs);
    expect((out.layout as Record<string, number[]>).train).toEqual([500, 61]);
    expect(Object.keys(out.layout as object)).toEqual(['read', 'split', 'train']);
    expect((out.nodes[3].inputs as Record<string, string>).model).toBe('train');
  });

  it('refuses incompatible ports and cycles, with the reason', () => {
    const { nodes, edges } = fromPipeline(demo, specs);
    expect(connectionProblem('split', 'test', 'score', 'model', nodes, edges, specs)).toMatch(/type mismatch: split.test is a Table, but score.model takes a Model/);
    expect(connectionProblem('score', 'output', 'split', 'data', nodes, edges, specs)).toMatch(/cycle/);
    expect(connectionProblem('split', 'test', 'score', 'data', nodes, edges, specs)).toBeNull();
  });
});
