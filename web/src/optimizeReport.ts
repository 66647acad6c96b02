// Pure helpers of the optimization report page (unit-tested in test/optimizeReport.test.ts).
// The report comes from the `summary` Metrics of a `model.optimize` node, built by tidal.optimize's report_metrics:
// the words are the server's; this file only lays them out.
import type { ArtifactPreview } from './api';

export type Row = Record<string, unknown>;
export interface ReportColumn { name: string; title: string }
export type RowKind = 'picked' | 'lost' | 'not-run';

/** The marker report.json and the `summary` Metrics both carry: a Metrics with it is an optimization report. */
export const REPORT_FORMAT = 'tidal_optimize';

export function isOptimizeReport(view: ArtifactPreview): boolean {
  return view.type === 'Metrics' && typeof view.metrics?.[REPORT_FORMAT] === 'number' && Array.isArray(view.tables?.variants);
}

/** The variants table's columns, as the report declares them (the stored rows' keys come back sorted);
 * any column the declaration misses comes after, so nothing the server sent is hidden. */
export function reportColumns(tables: Record<string, Row[]>): ReportColumn[] {
  const declared = (tables.columns ?? [])
    .filter((item) => typeof item.name === 'string')
    .map((item) => ({ name: item.name as string, title: typeof item.title === 'string' ? item.title : (item.name as string) }));
  const seen = new Set(declared.map((column) => column.name));
  for (const row of tables.variants ?? []) {
    for (const name of Object.keys(row)) if (!seen.has(name)) { seen.add(name); declared.push({ name, title: name }); }
  }
  return declared;
}

/** The columns drawn as cells; the reason, when declared, goes on a line of its own under each row (it is the
 * longest text, and the panel is narrow). */
export function cellColumns(columns: ReportColumn[]): { cells: ReportColumn[]; reasonLine: boolean } {
  return { cells: columns.filter((column) => column.name !== 'reason'), reasonLine: columns.some((column) => column.name === 'reason') };
}

/** How a variant's row looks: the pick stands out, variants that were measured and lost read normally,
 * those that never competed (failed, not packaged, not scored, not timed) are greyed. */
export function rowKind(row: Row, winner: unknown): RowKind {
  if (row.variant === winner) return 'picked';
  return row.verdict === 'won' || row.verdict === 'lost' ? 'lost' : 'not-run';
}

/** A cell's text: sizes with thousands separators, other numbers to 4 significant digits, nothing for null. */
export function formatCell(name: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (name === 'size_bytes' || name.startsWith('rows_per_s')) return Math.round(value).toLocaleString('en-US');
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Columns whose cells are numbers (right-aligned). */
export function isNumeric(column: string, rows: Row[]): boolean {
  return rows.some((row) => typeof row[column] === 'number');
}

/** The report's two charts in drawing order, and any other figure the server sends after them. */
export function reportFigures(figures: Record<string, Record<string, unknown>>): [string, Record<string, unknown>][] {
  const order = ['latency_vs_loss', 'size'];
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  return Object.entries(figures).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}
