import { describe, expect, it } from 'vitest';
import { formatMs, inputKind, metricPairs, outputLines, rowFromForm, servedWhat } from '../src/models';

describe('models page helpers', () => {
  it('reads signature dtypes as the server does', () => {
    expect(['float64', 'float32', 'int64', 'uint8', 'bool', 'object', 'category', undefined].map(inputKind))
      .toEqual(['float', 'float', 'int', 'int', 'bool', 'string', 'string', 'float']);
  });

  it('builds a typed row from the form, naming what is wrong', () => {
    const inputs = [{ name: 'age', dtype: 'int64' }, { name: 'income', dtype: 'float64' }, { name: 'member', dtype: 'bool' }, { name: 'city', dtype: 'object' }];
    expect(rowFromForm(inputs, { age: '31', income: '5200.5', member: 'true', city: 'Oslo' }))
      .toEqual({ row: { age: 31, income: 5200.5, member: true, city: 'Oslo' }, problems: [] });
    expect(rowFromForm(inputs, { age: '', income: '', city: '' }).row).toEqual({ income: null, member: false, city: '' });
    expect(rowFromForm(inputs, { age: '3.5', income: 'lots' }).problems).toEqual(["age: '3.5' is not a whole number", "income: 'lots' is not a number"]);
    expect(rowFromForm(inputs, { income: '1' }).problems).toEqual(['age needs a whole number']);
  });

  it('formats latencies, metrics and what a service serves', () => {
    expect([formatMs(null), formatMs(1.234), formatMs(42.4)]).toEqual(['—', '1.23 ms', '42 ms']);
    expect(metricPairs({ eval: { rows: 114, note: 'x', accuracy: 0.8, auc: 0.9 } })).toEqual([['eval.auc', 0.9], ['eval.accuracy', 0.8], ['eval.rows', 114]]);
    expect(outputLines({ outputs: [{ name: 'prediction', data: [1] }, { name: 'probabilities', data: [0.2, 0.8] }] }))
      .toBe('prediction = [1]\nprobabilities = [0.2,0.8]');
    expect([servedWhat('models:/churn@production'), servedWhat('models:/churn/3'), servedWhat('models:/churn')])
      .toEqual(['alias production', 'version 3', 'the newest version']);
  });
});
