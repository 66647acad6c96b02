// Typed calls to the network editor's routes (/api/networks, see /api/docs). Nothing is computed here.
import { call, encodePath, type JsonSchema } from './api';

export interface LayerKindInfo {
  name: string; category: string; category_title: string; summary: string;
  inputs: { name: string; optional: boolean; variadic: boolean }[];
  outputs: string[]; numbered_outputs: boolean; nested: boolean; torch?: string | null;
  params_schema: JsonSchema; required: string[]; inferred: string[];
}
export type NetworkDict = Record<string, unknown> & { name: string };
export interface LayerIssue {
  code: string; message: string; layer?: string | null; node?: string | null; port?: string | null; param?: string | null;
  hint?: string | null; expected?: string | null; actual?: string | null;
}
export interface LayerShapesOut {
  kind: string; params: Record<string, unknown>; inputs: { port: string; from: string; shape: string }[];
  outputs: Record<string, string>; module?: CheckShapes;
}
export interface CheckShapes { inputs: Record<string, string>; layers: Record<string, LayerShapesOut>; outputs: Record<string, string | null> }
export interface NetworkCheck { ok: boolean; issues: LayerIssue[]; shapes: CheckShapes | null }
export interface NetworkDocument { path?: string | null; network: NetworkDict; yaml: string; issues: LayerIssue[] }
export interface NetworkFile { path: string; name?: string | null; layers?: number | null; modified: number; error?: string | null }
export interface ImportRequest {
  source: string; class_name: string; inputs: { shape: number[]; dtype: string }[]; name?: string | null; via?: string; timeout_s?: number;
  output_names?: string[];
}

export const networksApi = {
  kinds: () => call<LayerKindInfo[]>('GET', '/api/networks/kinds'),
  check: (network: NetworkDict, path: string | null) => call<NetworkCheck>('POST', '/api/networks/check', { network, path }),
  code: (network: NetworkDict, path: string | null) => call<{ code: string; class_name: string }>('POST', '/api/networks/code', { network, path }),
  importModule: (request: ImportRequest) => call<NetworkDocument>('POST', '/api/networks/import', request),
  list: () => call<NetworkFile[]>('GET', '/api/networks'),
  open: (path: string) => call<NetworkDocument>('GET', `/api/networks/${encodePath(path)}`),
  save: (path: string, network: NetworkDict, overwrite: boolean) =>
    call<NetworkDocument>('PUT', `/api/networks/${encodePath(path)}`, { network, overwrite }),
  info: () => call<{ import_code: boolean; allow_code: boolean }>('GET', '/api/info'),
};

/** The layer an issue is about (the node id on the canvas), or null for the whole network. */
export const issueLayer = (issue: LayerIssue): string | null => issue.layer ?? issue.node ?? null;
