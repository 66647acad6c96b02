// Typed calls to the Studio API (see /openapi.json). Every call goes to the FastAPI backend.

export interface Port { name: string; type: string; optional: boolean; help?: string | null }
export interface ComponentSummary {
  id: string; title: string; category: string; category_title: string; summary: string; version: string;
  origin?: string;  // "tidal", or the plug-in distribution that registered it
  inputs: Port[]; outputs: Port[];
}
export interface JsonSchema {
  type?: string; title?: string; description?: string; default?: unknown; enum?: unknown[];
  anyOf?: JsonSchema[]; items?: JsonSchema; properties?: Record<string, JsonSchema>; required?: string[];
  minimum?: number; maximum?: number; exclusiveMinimum?: number; exclusiveMaximum?: number;
  'x-column-of'?: string; 'x-widget'?: string; 'x-file'?: string;
  [key: string]: unknown;
}
export interface ComponentDetail extends ComponentSummary {
  description: string; tags: Record<string, unknown>; side_effects: boolean;
  params_schema: JsonSchema; defaults: Record<string, unknown>;
}
export interface Issue { code: string; message: string; node?: string | null; port?: string | null; param?: string | null; hint?: string | null }
export type PipelineDict = Record<string, unknown> & { name: string; nodes: Record<string, unknown>[] };
export interface PipelineFile { path: string; name?: string | null; nodes?: number | null; modified: number; error?: string | null; skipped?: boolean }
export interface PipelineDocument { path: string; pipeline: PipelineDict; yaml: string; issues: Issue[] }
export interface Output { id: number | null; type: string; size_bytes: number; meta: Record<string, unknown> }
export interface NodeRun {
  component: string; status: string; cached: boolean; attempts: number; duration_s?: number | null;
  error?: string | null; metrics: Record<string, unknown>; outputs: Record<string, Output>;
}
export interface RunSummary { id: string; pipeline: string; pipeline_path?: string | null; status: string; created_at?: string | null; finished_at?: string | null; error?: string | null }
export interface RunDetail extends RunSummary { nodes: Record<string, NodeRun>; params: Record<string, Record<string, unknown>>; active: boolean; pipeline_data?: PipelineDict | null }
export interface CompareRow { key: string; a: unknown; b: unknown; different: boolean }
export interface Comparison { a: RunSummary; b: RunSummary; params: CompareRow[]; metrics: CompareRow[] }
export interface Column { name: string; type: string }
export interface ArtifactPreview {
  id: number; run_id: string; node_id: string; port: string; type: string;
  rows?: number | null; offset: number; limit: number; columns: Column[]; data: Record<string, unknown>[];
  metrics: Record<string, unknown>; figures: Record<string, Record<string, unknown>>;
  tables: Record<string, Record<string, unknown>[]>; spec?: Record<string, unknown> | null; summary?: Record<string, unknown> | null;
}
export interface ColumnStats { name: string; type: string; count: number; nulls: number; distinct: number; min: unknown; max: unknown; mean: number | null }
export interface RunEvent { run_id: string; status: string; node_id: string | null; cached?: boolean; error?: string | null; duration_s?: number | null; seq: number; time?: number }

export interface SnapshotDecision { index?: number | null; accepted?: boolean | null; metric?: string | null; value?: number | null; reason?: string | null }
export interface StreamJob {
  job: string; state: string; epoch: number; rows: number; outputs: number; dead_letters: number;
  rows_per_second?: number | null; lag?: number | null; schema_changes: string[]; updated?: number | null;
  registered_model?: string | null;
  model?: { proposed: number; accepted: number; metric?: string | null; value?: number | null; snapshot?: number | null;
    version?: number | null; last?: SnapshotDecision | null } | null;
}

export interface StudySummary {
  id: string; name: string; status: string; strategy: string; metric: string; direction: string; budget: number;
  trainer?: string | null; label?: string | null; trials: number; counts: Record<string, number>;
  best_value?: number | null; best_trial?: number | null; created_at?: string | null; finished_at?: string | null;
  error?: string | null; run_id?: string | null; node_id?: string | null; controlled: boolean;
}
export interface Trial {
  number: number; status: string; value?: number | null; params: Record<string, unknown>; metrics: Record<string, unknown>;
  meta: Record<string, unknown>; error?: string | null; attempts: number; started_at?: string | null;
  finished_at?: string | null; duration_s?: number | null;
}
export interface StudyDetail extends StudySummary {
  search_space: Record<string, unknown>; options: Record<string, unknown>; best_model_uri?: string | null;
  trial_list: Trial[]; report: Record<string, unknown>; figures: Record<string, Record<string, unknown>>;
}
export interface StudyAction { id: string; status: string; detail: string }

export class ApiError extends Error {
  constructor(public status: number, message: string, public issues: Issue[] = []) { super(message); }
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    // every write is JSON, with or without a body: the Studio refuses other writes (cross-site protection)
    headers: method === 'GET' ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? response.statusText, data?.issues ?? []);
  return data as T;
}

/** What the server says of itself (GET /api/info): the executors a run may pick, chosen by whoever started it. */
export interface StudioInfo {
  version: string;
  workspace: string;
  auth: boolean;
  allow_code: boolean;
  executor: string;
  executors: string[];
}

export const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

export const api = {
  components: () => call<ComponentSummary[]>('GET', '/api/components'),
  component: (id: string) => call<ComponentDetail>('GET', `/api/components/${encodeURIComponent(id)}`),
  pipelines: () => call<PipelineFile[]>('GET', '/api/pipelines'),
  open: (path: string) => call<PipelineDocument>('GET', `/api/pipelines/${encodePath(path)}`),
  save: (path: string, pipeline: PipelineDict, overwrite: boolean) =>
    call<{ path: string; yaml: string; issues: Issue[] }>('PUT', `/api/pipelines/${encodePath(path)}`, { pipeline, overwrite }),
  validate: (pipeline: PipelineDict) => call<{ issues: Issue[] }>('POST', '/api/pipelines/validate', { pipeline }),
  python: (pipeline: PipelineDict) => call<{ code: string }>('POST', '/api/pipelines/python', { pipeline }),
  info: () => call<StudioInfo>('GET', '/api/info'),
  run: (pipeline: PipelineDict, options: { path?: string | null; until?: string; from_node?: string; executor?: string }) =>
    call<{ run_id: string; nodes: string[] }>('POST', '/api/runs', { pipeline, ...options }),
  runs: (pipeline?: string, limit = 100) =>
    call<RunSummary[]>('GET', `/api/runs?limit=${limit}${pipeline ? `&pipeline=${encodeURIComponent(pipeline)}` : ''}`),
  runDetail: (id: string) => call<RunDetail>('GET', `/api/runs/${encodeURIComponent(id)}`),
  cancel: (id: string) => call<{ cancelled: boolean }>('POST', `/api/runs/${encodeURIComponent(id)}/cancel`),
  log: (id: string, node: string) =>
    call<{ text: string; status: string }>('GET', `/api/runs/${encodeURIComponent(id)}/nodes/${encodeURIComponent(node)}/log`),
  compare: (a: string, b: string) => call<Comparison>('GET', `/api/runs/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`),
  columns: (pipeline: string, node: string, port: string) =>
    call<{ run_id: string | null; columns: Column[] }>('GET', `/api/columns?pipeline=${encodeURIComponent(pipeline)}&node=${encodeURIComponent(node)}&port=${encodeURIComponent(port)}`),
  artifact: (id: number, offset = 0, limit = 50) => call<ArtifactPreview>('GET', `/api/artifacts/${id}?offset=${offset}&limit=${limit}`),
  stats: (id: number) => call<{ rows: number; columns: ColumnStats[] }>('GET', `/api/artifacts/${id}/stats`),
  streams: () => call<StreamJob[]>('GET', '/api/streams'),
  studies: (limit = 100) => call<StudySummary[]>('GET', `/api/studies?limit=${limit}`),
  study: (id: string) => call<StudyDetail>('GET', `/api/studies/${encodeURIComponent(id)}`),
  startStudy: (pipeline: PipelineDict, options: { path?: string | null; node?: string }) =>
    call<{ run_id: string; node: string; nodes: string[] }>('POST', '/api/studies', { pipeline, ...options }),
  stopStudy: (id: string) => call<StudyAction>('POST', `/api/studies/${encodeURIComponent(id)}/stop`),
  resumeStudy: (id: string) => call<StudyAction>('POST', `/api/studies/${encodeURIComponent(id)}/resume`),
  events: (id: string) => new EventSource(`/api/runs/${encodeURIComponent(id)}/events`),
};
