import { describe, expect, it } from 'vitest';
import type { ArtifactPreview } from '../src/api';
import { cellColumns, formatCell, isNumeric, isOptimizeReport, reportColumns, reportFigures, rowKind } from '../src/optimizeReport';

const preview = (metrics: Record<string, unknown>, tables: Record<string, Record<string, unknown>[]>, type = 'Metrics'): ArtifactPreview => ({
  id: 1, run_id: 'r', node_id: 'optimize', port: 'summary', type, offset: 0, limit: 50, columns: [], data: [],
  metrics, figures: {}, tables,
});

describe('optimization report helpers', () => {
  it('recognises a report by its format marker and its variants table, nothing else', () => {
    expect(isOptimizeReport(preview({ tidal_optimize: 1 }, { variants: [] }))).toBe(true);
    expect(isOptimizeReport(preview({ auc: 0.9 }, { variants: [] }))).toBe(false);
    expect(isOptimizeReport(preview({ tidal_optimize: 1 }, {}))).toBe(false);
    expect(isOptimizeReport(preview({ tidal_optimize: '1' }, { variants: [] }))).toBe(false);
    expect(isOptimizeReport(preview({ tidal_optimize: 1 }, { variants: [] }, 'Figure'))).toBe(false);
  });

  it('orders the columns as the report declares them (stored rows come back with sorted keys), the rest after', () => {
    const tables = {
      columns: [{ name: 'variant', title: 'variant' }, { name: 'p50_ms_b1', title: 'p50 ms b1' }, { name: 'verdict', title: 'verdict' },
        { name: 'reason' }],
      variants: [{ family: 'onnx-fp32', p50_ms_b1: 0.1, reason: 'x', variant: 'onnx-fp32', verdict: 'lost' }],
    };
    expect(reportColumns(tables)).toEqual([
      { name: 'variant', title: 'variant' }, { name: 'p50_ms_b1', title: 'p50 ms b1' }, { name: 'verdict', title: 'verdict' },
      { name: 'reason', title: 'reason' }, { name: 'family', title: 'family' },
    ]);
    expect(reportColumns({ variants: [{ b: 1, a: 2 }] }).map((column) => column.name)).toEqual(['b', 'a']);
    expect(reportColumns({})).toEqual([]);
  });

  it('draws every declared column as a cell but the reason, which gets its own line', () => {
    const columns = [{ name: 'variant', title: 'variant' }, { name: 'verdict', title: 'verdict' }, { name: 'reason', title: 'reason' }];
    expect(cellColumns(columns)).toEqual({ cells: columns.slice(0, 2), reasonLine: true });
    expect(cellColumns(columns.slice(0, 2))).toEqual({ cells: columns.slice(0, 2), reasonLine: false });
  });

  it('marks the pick, the variants that lost, and those that never competed', () => {
    expect(rowKind({ variant: 'onnx-fp32-t1', verdict: 'won' }, 'onnx-fp32-t1')).toBe('picked');
    expect(rowKind({ variant: 'baseline', verdict: 'won' }, 'baseline')).toBe('picked');  // the original kept
    expect(rowKind({ variant: 'baseline', verdict: 'lost' }, 'onnx-fp32-t1')).toBe('lost');
    expect(rowKind({ variant: 'int8-dynamic', verdict: 'failed' }, 'onnx-fp32-t1')).toBe('not-run');
    expect(rowKind({ variant: 'compiled', verdict: 'not packaged' }, 'baseline')).toBe('not-run');
  });

  it('formats cells: sizes and throughput whole with separators, other numbers to 4 digits, null empty', () => {
    expect(formatCell('size_bytes', 1234567)).toBe('1,234,567');
    expect(formatCell('rows_per_s_b32', 45678.91)).toBe('45,679');
    expect(formatCell('p50_ms_b1', 0.0123456)).toBe('0.01235');
    expect(formatCell('loss', 0)).toBe('0');
    expect([formatCell('score', null), formatCell('x', undefined), formatCell('x', true), formatCell('x', 'lost')])
      .toEqual(['', '', 'yes', 'lost']);
    expect(isNumeric('loss', [{ loss: null }, { loss: 0.01 }])).toBe(true);
    expect(isNumeric('reason', [{ reason: 'x' }])).toBe(false);
  });

  it('draws latency against loss first, then size, then anything else', () => {
    expect(reportFigures({ zeta: {}, size: {}, latency_vs_loss: {} }).map(([name]) => name)).toEqual(['latency_vs_loss', 'size', 'zeta']);
  });
});
