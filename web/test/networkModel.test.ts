import { describe, expect, it } from 'vitest';
import type { LayerKindInfo, NetworkDict } from '../src/networks';
import { compactSlots, connectionProblem, exampleInputs, fromSpec, outputPorts, parseShape, toSpec } from '../src/networkModel';
import { parseExamples } from '../src/NetworkSide';

const kind = (name: string, outputs = ['output'], variadic = false): LayerKindInfo => ({
  name, category: 'dense', category_title: 'Dense', summary: '', inputs: [{ name: variadic ? 'tensors' : 'x', optional: false, variadic }],
  outputs, numbered_outputs: outputs.length === 0, nested: false, params_schema: {}, required: [], inferred: [],
});
const kinds = new Map([['linear', kind('linear')], ['relu', kind('relu')], ['lstm', kind('lstm', ['output', 'h_n', 'c_n'])], ['concat', kind('concat', ['output'], true)]]);
const SPEC: NetworkDict = {
  'tidal-nn': 1, name: 'net', description: 'd', 'x-owner': 'me', inputs: { x: { shape: ['batch', 8, 4] } },
  layers: [
    { id: 'rnn', kind: 'lstm', inputs: ['x'], params: { hidden_size: 4 } },
    { id: 'last', kind: 'linear', inputs: ['rnn.h_n'], params: { out_features: 2 }, title: 'head' },
    { id: 'both', kind: 'concat', inputs: ['rnn', 'last'] },
  ],
  outputs: { y: 'both' }, layout: { rnn: [10, 20] },
};
const ports = (node: Parameters<typeof outputPorts>[0]) => outputPorts(node, kinds, null, {});

describe('network model', () => {
  it('reads a spec into nodes and edges and writes the same spec back', () => {
    const loaded = fromSpec(SPEC, (node) => ports(node));
    expect(loaded.nodes.map((node) => node.id)).toEqual(['x', 'rnn', 'last', 'both', 'out:y']);
    expect(loaded.nodes[1].position).toEqual({ x: 10, y: 20 });
    const handles = loaded.edges.map((edge) => `${edge.source}.${edge.sourceHandle}->${edge.target}:${edge.targetHandle}`);
    expect(handles).toEqual(['x.output->rnn:i0', 'rnn.h_n->last:i0', 'rnn.output->both:i0', 'last.output->both:i1', 'both.output->out:y:i0']);
    const back = toSpec(loaded.meta, loaded.nodes, loaded.edges, loaded.modules, ports, false);
    const { layout: _, ...expected } = SPEC;
    expect(back).toEqual(expected);
  });

  it('refuses cycles, self loops and skipped input slots', () => {
    const { nodes, edges } = fromSpec(SPEC, (node) => ports(node));
    expect(connectionProblem('both', 'rnn', 'i0', nodes, edges)).toContain('cycle');
    expect(connectionProblem('last', 'last', 'i0', nodes, edges)).toContain('itself');
    expect(connectionProblem('x', 'both', 'i3', nodes, edges)).toContain('earlier inputs');
    expect(connectionProblem('x', 'both', 'i2', nodes, edges)).toBeNull();
    expect(connectionProblem('rnn', 'x', 'i0', nodes, edges)).not.toBeNull();
  });

  it('renumbers the inputs of a layer after one is removed', () => {
    const { edges } = fromSpec(SPEC, (node) => ports(node));
    const left = compactSlots(edges.filter((edge) => edge.id !== 'both:i0'));
    const into = left.filter((edge) => edge.target === 'both');
    expect(into.map((edge) => [edge.id, edge.source])).toEqual([['both:i0', 'last']]);
    expect(compactSlots(edges)).toBe(edges);
  });

  it('parses shapes and example inputs', () => {
    expect(parseShape('batch, 30')).toEqual(['batch', 30]);
    expect(parseShape('batch, -1')).toBeNull();
    expect(parseExamples('2, 4\n2 16 int64')).toEqual([{ shape: [2, 4], dtype: 'float32' }, { shape: [2, 16], dtype: 'int64' }]);
    expect(parseExamples('2, y')).toBeNull();
    expect(parseExamples('2x4')).toEqual([{ shape: [2, 4], dtype: 'float32' }]);
    const { nodes } = fromSpec(SPEC, (node) => ports(node));
    expect(exampleInputs(nodes)).toEqual([{ shape: [2, 8, 4], dtype: 'float32' }]);
  });
});
