import { describe, expect, it } from 'vitest';
import type { StudyDetail, Trial } from '../src/api';
import { formatValue, orderedFigures, parameterColumns, trialNote, tuneNodes } from '../src/studies';

const trial = (number: number, status: string, meta: Record<string, unknown> = {}, error: string | null = null): Trial => ({
  number, status, value: 0.9, params: { C: 1 }, metrics: {}, meta, error, attempts: 1,
});

describe('studies page helpers', () => {
  it('describes PBT lineage, evolutionary rounds, pruning and errors', () => {
    expect(trialNote(trial(4, 'succeeded', { generation: 1, member: 0, parent: 2, exploited: true }))).toBe('gen 1 · member 0; exploits trial 2');
    expect(trialNote(trial(1, 'succeeded', { generation: 0, member: 1, parent: null }))).toBe('gen 0 · member 1');
    expect(trialNote(trial(5, 'succeeded', { generation: 1, member: 1, parent: 1, exploited: false }))).toBe('gen 1 · member 1; continues trial 1');
    expect(trialNote(trial(7, 'succeeded', { round: 2, parent: 3 }))).toBe('round 2 · from trial 3');
    expect(trialNote(trial(2, 'pruned', { pruned_at: 20 }))).toBe('pruned at step 20');
    expect(trialNote(trial(3, 'failed', {}, 'x'.repeat(200)))).toHaveLength(121);
  });

  it('lists the search space first, then other parameters', () => {
    const detail = { search_space: { C: {}, penalty: {} }, trial_list: [{ ...trial(0, 'succeeded'), params: { C: 1, extra: 2 } }] } as unknown as StudyDetail;
    expect(parameterColumns(detail)).toEqual(['C', 'penalty', 'extra']);
  });

  it('orders figures and formats values', () => {
    const names = orderedFigures({ lineage: {}, zeta: {}, best_so_far: {}, parameter_importance: {} }).map(([name]) => name);
    expect(names).toEqual(['best_so_far', 'parameter_importance', 'lineage', 'zeta']);
    expect([formatValue(null), formatValue(0.987654321), formatValue(3), formatValue(true)]).toEqual(['—', '0.9877', '3', 'yes']);
  });

  it('finds the tune nodes of the canvas', () => {
    expect(tuneNodes([{ id: 'read', data: { component: 'io.read_csv' } }, { id: 'tune', data: { component: 'automl.tune' } }])).toEqual(['tune']);
  });
});
