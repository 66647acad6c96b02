// Pure helpers of the Studies page: the trials table's columns and cells (unit-tested in test/studies.test.ts).
import type { StudyDetail, Trial } from './api';

/** Trials shown in the table: the newest ones, the chart shows them all. */
export const TRIAL_ROWS = 200;
/** Figures in the order they are drawn; any other figure the server sends comes after them. */
export const FIGURE_ORDER = ['best_so_far', 'parallel_coordinates', 'parameter_importance', 'intermediate_values', 'lineage'];

export function formatValue(value: unknown): string {
  if (value === undefined || value === null) return '—';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The parameter columns: the search space's names, then any other parameter a trial has. */
export function parameterColumns(detail: StudyDetail): string[] {
  const names = Object.keys(detail.search_space);
  const seen = new Set(names);
  for (const trial of detail.trial_list) for (const name of Object.keys(trial.params)) if (!seen.has(name)) { seen.add(name); names.push(name); }
  return names;
}

/** Lineage and early stopping in words: PBT generation/member/parent, evolutionary round, pruned step, error. */
export function trialNote(trial: Trial): string {
  const meta = trial.meta ?? {};
  const parts: string[] = [];
  if (meta.generation !== undefined) {
    parts.push(`gen ${meta.generation} · member ${meta.member}`);
    if (meta.parent !== null && meta.parent !== undefined) parts.push(`${meta.exploited ? 'exploits' : 'continues'} trial ${meta.parent}`);
  } else if (meta.round !== undefined) {
    parts.push(`round ${meta.round}${meta.parent !== undefined && meta.parent !== null ? ` · from trial ${meta.parent}` : ''}`);
  }
  if (trial.status === 'pruned' && meta.pruned_at !== undefined) parts.push(`pruned at step ${meta.pruned_at}`);
  if (trial.error) parts.push(trial.error.length > 120 ? `${trial.error.slice(0, 120)}…` : trial.error);
  return parts.join('; ');
}

/** The study's figures in drawing order. */
export function orderedFigures(figures: Record<string, Record<string, unknown>>): [string, Record<string, unknown>][] {
  const rank = (name: string) => (FIGURE_ORDER.includes(name) ? FIGURE_ORDER.indexOf(name) : FIGURE_ORDER.length);
  return Object.entries(figures).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The tune nodes of a pipeline (what a study can start from). */
export function tuneNodes(nodes: { id: string; data: { component: string } }[]): string[] {
  return nodes.filter((node) => node.data.component === 'automl.tune').map((node) => node.id);
}
