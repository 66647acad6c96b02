// The Models page's calls (/api/models, /api/model-outputs, /api/services) and its pure helpers
// (unit-tested in test/models.test.ts). Everything the page does goes through these routes.
import { call } from './api';

export interface ModelSummary {
  name: string; description?: string | null; tags: Record<string, string>; latest_version?: number | null;
  aliases: Record<string, number>; created_at: string; updated_at: string;
}
export interface SignatureField { name: string; dtype?: string; classes?: unknown[] | null }
export interface ModelVersion {
  name: string; version: number; model_uri: string; flavor: string; task: string; run_id?: string | null; node_id?: string | null;
  description?: string | null; tags: Record<string, string>; aliases: string[]; created_at?: string | null;
  signature: { inputs: SignatureField[]; outputs: SignatureField[] }; label?: string | null; classes?: unknown[] | null;
  package_error?: string | null; run_status?: string | null; pipeline?: string | null; component?: string | null;
  metrics: Record<string, Record<string, unknown>>;
}
export interface ModelDetail extends ModelSummary { versions: ModelVersion[] }
export interface ModelOutput { run_id: string; pipeline?: string | null; node_id: string; port: string; component?: string | null; created_at?: string | null }
export interface Service {
  name: string; model: string; source: string; follows: boolean; url: string; port: number; pid: number; state: string;
  ready: boolean; reason?: string | null; returncode?: number | null; started_at: string; spec_path: string; spec_yaml: string;
  served_versions: string[]; log_tail?: string | null;
}
export interface VersionTraffic { model: string; version: string; requests: number; errors: number; loaded: boolean }
export interface ServiceMetrics {
  requests: number; errors: number; statuses: Record<string, number>; latency_ms: Record<string, number | null>;
  in_flight: number; versions: VersionTraffic[]; follow_target: Record<string, number>;
  requests_per_s: number | null; errors_per_s?: number | null; window_s: number | null; rates: Record<string, number>;
}
export interface InferAnswer { service: string; model: string; version: string | null; status: number; request: unknown; response: unknown; latency_ms: number }

const part = encodeURIComponent;

export const modelsApi = {
  models: () => call<ModelSummary[]>('GET', '/api/models'),
  model: (name: string) => call<ModelDetail>('GET', `/api/models/${part(name)}`),
  outputs: (limit = 20) => call<ModelOutput[]>('GET', `/api/model-outputs?limit=${limit}`),
  register: (body: { run_id: string; node_id: string; port?: string; name: string; alias?: string | null }) =>
    call<ModelVersion>('POST', '/api/models', body),
  setAlias: (name: string, alias: string, version: number) =>
    call<{ alias: string; version: number | null; previous: number | null }>('PUT', `/api/models/${part(name)}/aliases/${part(alias)}`, { version }),
  services: () => call<Service[]>('GET', '/api/services'),
  service: (name: string) => call<Service>('GET', `/api/services/${part(name)}`),
  deploy: (body: { model: string; version?: number; alias?: string }) => call<Service>('POST', '/api/services', body),
  stop: (name: string) => call<Service>('POST', `/api/services/${part(name)}/stop`),
  metrics: (name: string) => call<ServiceMetrics>('GET', `/api/services/${part(name)}/metrics`),
  infer: (name: string, row: Record<string, unknown>) => call<InferAnswer>('POST', `/api/services/${part(name)}/infer`, { row }),
};

export type InputKind = 'float' | 'int' | 'bool' | 'string';

/** How a form field reads a signature dtype (the serving layer's kinds: float, int, bool, string). */
export function inputKind(dtype: string | undefined): InputKind {
  const text = (dtype ?? 'float64').toLowerCase();
  if (text.startsWith('float') || text.startsWith('double') || text === 'number' || text === 'numeric') return 'float';
  if (text.startsWith('int') || text.startsWith('uint')) return 'int';
  if (text.startsWith('bool')) return 'bool';
  return 'string';
}

/** The request row from the form's text values: numbers for numeric inputs (an empty float is a missing value). */
export function rowFromForm(inputs: SignatureField[], values: Record<string, string>): { row: Record<string, unknown>; problems: string[] } {
  const row: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const input of inputs) {
    const kind = inputKind(input.dtype);
    const raw = (values[input.name] ?? '').trim();
    if (kind === 'bool') row[input.name] = raw === 'true';
    else if (kind === 'string') row[input.name] = values[input.name] ?? '';
    else if (raw === '') {
      if (kind === 'float') row[input.name] = null;
      else problems.push(`${input.name} needs a whole number`);
    } else {
      const number = Number(raw);
      if (!Number.isFinite(number)) problems.push(`${input.name}: '${raw}' is not a number`);
      else if (kind === 'int' && !Number.isInteger(number)) problems.push(`${input.name}: '${raw}' is not a whole number`);
      else row[input.name] = number;
    }
  }
  return { row, problems };
}

/** A latency in milliseconds for people: '—' when there is none yet. */
export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`;
}

/** Metrics people look for first; any other scalar metric comes after them. */
export const METRIC_ORDER = ['auc', 'accuracy', 'f1', 'precision', 'recall', 'log_loss', 'r2', 'rmse', 'mae', 'silhouette'];

/** The scalar metrics of a version's run as 'node.metric' pairs, the well-known ones first. */
export function metricPairs(metrics: Record<string, Record<string, unknown>>, limit = 4): [string, number][] {
  const pairs: [string, number, number][] = [];
  for (const [node, values] of Object.entries(metrics)) {
    for (const [name, value] of Object.entries(values)) {
      if (typeof value !== 'number') continue;
      const rank = METRIC_ORDER.indexOf(name);
      pairs.push([`${node}.${name}`, value, rank < 0 ? METRIC_ORDER.length : rank]);
    }
  }
  return pairs.sort((a, b) => a[2] - b[2]).slice(0, limit).map(([name, value]) => [name, value]);
}

/** A v2 answer's outputs, one line each ('prediction = [1]'); anything else as JSON. */
export function outputLines(response: unknown): string {
  const outputs = (response as { outputs?: { name: string; data: unknown }[] } | null)?.outputs;
  if (!Array.isArray(outputs)) return JSON.stringify(response, null, 1);
  return outputs.map((item) => `${item.name} = ${JSON.stringify(item.data)}`).join('\n');
}

/** What a service serves, in words: 'alias production (follows)', 'version 3', 'the newest version (follows)'. */
export function servedWhat(source: string): string {
  const rest = source.replace(/^models:\//, '');
  if (rest.includes('@')) return `alias ${rest.split('@')[1]}`;
  if (rest.includes('/')) return `version ${rest.split('/')[1]}`;
  return 'the newest version';
}
