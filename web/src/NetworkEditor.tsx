// The network editor: layers dragged from a palette onto a canvas, every edge labelled with its inferred shape,
// each problem on its layer, a form per layer from its kind's schema, the generated PyTorch code beside the
// canvas (edit it and apply it back), import of a module file, blocks that fold and unfold, network files.
// Every check, the code and the import come from /api/networks: nothing is inferred in the browser.
import {
  Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useEdgesState, useNodesState, useReactFlow, type Connection,
} from '@xyflow/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ComponentSummary } from './api';
import { OpenDialog, SaveAsDialog } from './Dialogs';
import { issueLayer, networksApi, type LayerIssue, type LayerKindInfo, type NetworkCheck, type NetworkDict } from './networks';
import {
  blockLayout, compactSlots, connectionProblem, exampleInputs, freshName, fromSpec, layoutNetwork, NODE_HEIGHT, outputNodeId, outputPorts, splitRef, toSpec,
  type NetEdge, type NetNode, type NetworkMeta,
} from './networkModel';
import { NetCanvasContext, netNodeTypes } from './NetworkNodes';
import { CodeView, ImportBox, KindDocs, NetworkInspector, parseExamples, type CodeState } from './NetworkSide';
import { Palette } from './Palette';
import { useNetworkHistory, type NetSnapshot } from './useNetworkHistory';

const EMPTY: NetworkDict = { 'tidal-nn': 1, name: 'untitled-network', inputs: { x: { shape: ['batch', 16] } }, layers: [], outputs: [] };
const FIT = { padding: 0.15, maxZoom: 1.2 };

function Editor({ notify, visible }: { notify: (text: string, kind?: string) => void; visible: boolean }) {
  const flow = useReactFlow<NetNode, NetEdge>();
  const [kinds, setKinds] = useState<LayerKindInfo[]>([]);
  const kindMap = useMemo(() => new Map(kinds.map((kind) => [kind.name, kind])), [kinds]);
  const [nodes, setNodes, onNodesChange] = useNodesState<NetNode>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<NetEdge>([]);
  const [meta, setMeta] = useState<NetworkMeta>({ name: 'untitled-network', rest: {} });
  const [modules, setModules] = useState<Record<string, Record<string, unknown>>>({});
  const [path, setPath] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const [check, setCheck] = useState<NetworkCheck | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [code, setCode] = useState<CodeState>({ text: '', className: null, edited: false, problem: null });
  const [busy, setBusy] = useState(false);
  const [canImport, setCanImport] = useState(false);
  const [dialog, setDialog] = useState<'open' | 'save' | null>(null);
  const [find, setFind] = useState('');
  const [refresh, setRefresh] = useState(0);
  const [docsKind, setDocsKind] = useState<string | null>(null);
  const wrapper = useRef<HTMLDivElement>(null);
  const shapes = check?.shapes ?? null;
  const restore = useCallback((snapshot: NetSnapshot) => {
    setNodes(snapshot.nodes); setEdges(snapshot.edges); setMeta(snapshot.meta); setModules(snapshot.modules); setDirty(true);
  }, [setNodes, setEdges]);
  const history = useNetworkHistory({ nodes, edges, meta, modules }, restore);
  useEffect(() => {
    if (!visible) return;
    const onKey = (event: KeyboardEvent) => {
      if (['INPUT', 'TEXTAREA', 'SELECT'].includes((event.target as HTMLElement).tagName) || !(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      if (key === 'z' && !event.shiftKey) { event.preventDefault(); history.undo(); }
      else if ((key === 'z' && event.shiftKey) || key === 'y') { event.preventDefault(); history.redo(); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [visible, history]);

  const ports = useCallback((node: NetNode | undefined) => {
    if (node?.data.owner) {
      const found = shapes?.layers[node.data.owner]?.module?.layers[node.data.name]?.outputs;
      const kind = kindMap.get(node.data.kind ?? '');
      return found && Object.keys(found).length ? Object.keys(found) : kind?.outputs.length ? kind.outputs : ['output'];
    }
    return outputPorts(node, kindMap, shapes, modules);
  }, [kindMap, shapes, modules]);
  const byId = useMemo(() => new Map(nodes.map((node) => [node.id, node])), [nodes]);
  const structure = useMemo(() => toSpec(meta, nodes, edges, modules, ports, false), [meta, nodes, edges, modules, ports]);
  const key = useMemo(() => JSON.stringify(structure), [structure]);

  const load = useCallback((data: NetworkDict, keep?: Map<string, { x: number; y: number }>) => {
    const loaded = fromSpec(data, (node, blocks) => outputPorts(node, kindMap, null, blocks));
    const placed = keep ? loaded.nodes.map((node) => (keep.has(node.id) ? { ...node, position: keep.get(node.id)! } : node)) : loaded.nodes;
    setNodes(placed);
    setEdges(loaded.edges);
    setMeta(loaded.meta);
    setModules(loaded.modules);
    setSelected(null);
    setCode((current) => ({ ...current, edited: false, problem: null }));
    window.setTimeout(() => flow.fitView(FIT), 60);
  }, [kindMap, setNodes, setEdges, flow]);

  useEffect(() => {
    networksApi.kinds().then(setKinds).catch((error: Error) => notify(error.message, 'error'));
    networksApi.info().then((info) => setCanImport(info.import_code)).catch(() => undefined);
  }, [notify]);
  const newNetwork = useCallback(() => {
    load(EMPTY);
    setNodes((current) => [...current, { id: outputNodeId('y'), type: 'netOutput', position: { x: 20, y: 420 }, data: { role: 'output', name: 'y' } }]);
    setPath(null);
    setDirty(false);
    history.reset();
  }, [load, setNodes, history]);
  useEffect(() => { if (kinds.length && nodes.length === 0 && !path) newNetwork(); }, [kinds.length]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { if (visible) window.setTimeout(() => flow.fitView(FIT), 60); }, [visible]); // eslint-disable-line react-hooks/exhaustive-deps

  // -- shapes, problems and code from the server, after each edit -------------------------------
  useEffect(() => {
    if (!kinds.length) return;
    let live = true;
    const timer = window.setTimeout(() => {
      const network = JSON.parse(key) as NetworkDict;
      networksApi.check(network, path).then((found) => live && setCheck(found)).catch((error: Error) => live && notify(error.message, 'error'));
      networksApi.code(network, path).then((found) => {
        if (live) setCode((current) => (current.edited ? current : { text: found.code, className: found.class_name, edited: false, problem: null }));
      }).catch((error: Error) => {
        if (live) setCode((current) => (current.edited ? current : { text: `# The code appears when the network has no problems.\n# ${error.message.split('\n').join('\n# ')}`, className: null, edited: false, problem: null }));
      });
    }, 200);
    return () => { live = false; window.clearTimeout(timer); };
  }, [key, path, kinds.length, notify, refresh]);

  useEffect(() => {  // edges onto ports that turned out to have other names (blocks, split) move to the first one
    setEdges((current) => {
      let changed = false;
      const next = current.map((edge) => {
        const source = byId.get(edge.source);
        const known = source && source.data.role === 'layer' ? ports(source) : null;
        if (!known || !known.length || known.includes(edge.sourceHandle ?? '')) return edge;
        changed = true;
        return { ...edge, sourceHandle: known[0] };
      });
      return changed ? next : current;
    });
  }, [shapes]); // eslint-disable-line react-hooks/exhaustive-deps
  const issues = useMemo(() => {
    const found = new Map<string, LayerIssue[]>();
    const put = (id: string, issue: LayerIssue) => { if (!found.has(id)) found.set(id, []); found.get(id)!.push(issue); };
    for (const issue of check?.issues ?? []) {
      const layer = issueLayer(issue);
      if (!layer) continue;
      put(layer, issue);
      const head = layer.split('/')[0];
      if (head !== layer) {
        if (byId.has(head)) put(head, issue);
        else for (const node of nodes) if (!node.data.owner && node.data.params?.network === head) put(node.id, issue);
      }
    }
    return found;
  }, [check, byId, nodes]);
  const used = useMemo(() => {
    const counts = new Map<string, number>();
    for (const edge of edges) if (!edge.data?.inner) counts.set(edge.target, (counts.get(edge.target) ?? 0) + 1);
    return counts;
  }, [edges]);
  const shownEdges = useMemo(() => edges.map((edge) => {
    const source = byId.get(edge.source);
    let label: string | undefined;
    if (source?.data.role === 'input') label = shapes?.inputs[source.data.name];
    else if (source?.data.owner) label = shapes?.layers[source.data.owner]?.module?.layers[source.data.name]?.outputs[edge.sourceHandle ?? ''];
    else if (source) label = shapes?.layers[source.data.name]?.outputs[edge.sourceHandle ?? ''];
    return label ? { ...edge, label, labelBgPadding: [4, 2] as [number, number], labelBgBorderRadius: 4, className: 'net-edge' } : edge;
  }), [edges, byId, shapes]);

  // -- editing ----------------------------------------------------------------------------------
  const edited = useCallback(() => setDirty(true), []);
  const taken = useCallback(() => new Set([...nodes.map((node) => node.data.name), ...nodes.map((node) => node.id)]), [nodes]);
  const addLayer = useCallback((spec: ComponentSummary, clientX: number, clientY: number) => {
    const box = wrapper.current?.getBoundingClientRect();
    if (!box || clientX < box.left || clientX > box.right || clientY < box.top || clientY > box.bottom) return;
    const position = flow.screenToFlowPosition({ x: clientX, y: clientY });
    history.commit();
    const id = freshName(spec.id, taken());
    setNodes((current) => [...current.map((node) => ({ ...node, selected: false })),
      { id, type: 'layer', position, selected: true, data: { role: 'layer', name: id, kind: spec.id, params: {}, rest: {} } }]);
    setSelected(id);
    edited();
  }, [flow, taken, setNodes, edited, history]);

  const onConnect = useCallback((connection: Connection) => {
    const problem = connectionProblem(connection.source, connection.target, connection.targetHandle, nodes, edges);
    if (problem) return notify(`Not connected: ${problem}`, 'error');
    history.commit();
    const handle = connection.targetHandle ?? 'i0';
    setEdges((current) => [...current.filter((edge) => edge.id !== `${connection.target}:${handle}`),
      { id: `${connection.target}:${handle}`, source: connection.source, sourceHandle: connection.sourceHandle ?? 'output', target: connection.target, targetHandle: handle, data: {} }]);
    edited();
  }, [nodes, edges, setEdges, notify, edited, history]);

  const updateNode = useCallback((id: string, change: (node: NetNode) => NetNode) => {
    setNodes((current) => current.map((node) => (node.id === id ? change(node) : node)));
    edited();
  }, [setNodes, edited]);

  const setParam = useCallback((node: NetNode, name: string, value: unknown) => {
    history.commit(`param:${node.id}:${name}`);
    const next = (params: Record<string, unknown> | undefined) => {
      const out = { ...(params ?? {}) };
      if (value === undefined) delete out[name]; else out[name] = value;
      return out;
    };
    if (node.data.owner && node.data.block) {  // a layer of a block: the block changes, for every use
      const block = node.data.block;
      setModules((current) => {
        const layers = ((current[block]?.layers ?? []) as Record<string, unknown>[]).map((layer) =>
          (layer.id === node.data.name ? { ...layer, params: next(layer.params as Record<string, unknown>) } : layer));
        return { ...current, [block]: { ...current[block], layers } };
      });
      setNodes((current) => current.map((item) => (item.data.block === block && item.data.name === node.data.name
        ? { ...item, data: { ...item.data, params: next(item.data.params) } } : item)));
      edited();
      return;
    }
    updateNode(node.id, (item) => ({ ...item, data: { ...item.data, params: next(item.data.params) } }));
  }, [updateNode, setNodes, edited, history]);

  const rename = useCallback((node: NetNode, name: string): string | null => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 'letters, digits and _, not starting with a digit';
    const newId = node.data.role === 'output' ? outputNodeId(name) : name;
    if (taken().has(newId) || taken().has(name)) return `'${name}' is taken`;
    history.commit();
    const swap = (id: string) => (id === node.id ? newId : id);
    setNodes((current) => current.map((item) => (item.id === node.id ? { ...item, id: newId, data: { ...item.data, name } } : item)));
    setEdges((current) => current.map((edge) => (edge.source === node.id || edge.target === node.id
      ? { ...edge, id: `${swap(edge.target)}:${edge.targetHandle}`, source: swap(edge.source), target: swap(edge.target) } : edge)));
    setSelected(newId);
    edited();
    return null;
  }, [taken, setNodes, setEdges, edited, history]);

  const toggleFold = useCallback((id: string) => {
    const owner = nodes.find((node) => node.id === id);
    const blockName = String(owner?.data.params?.network ?? '');
    const block = modules[blockName];
    if (!owner || !block) return;
    // the layers below the block move down while it is open, and back when it folds
    const shift = (node: NetNode, by: number) => (!node.data.owner && node.id !== id && node.position.y > owner.position.y
      ? { ...node, position: { x: node.position.x, y: node.position.y + by } } : node);
    if (owner.data.unfolded) {
      const by = (owner.height ?? NODE_HEIGHT) - NODE_HEIGHT;
      setNodes((current) => current.filter((node) => node.data.owner !== id).map((node) =>
        (node.id === id ? { ...node, style: undefined, width: undefined, height: undefined, data: { ...node.data, unfolded: false } } : shift(node, -by))));
      setEdges((current) => current.filter((edge) => !(edge.data?.inner && edge.target.startsWith(`${id}/`))));
      return;
    }
    const { positions, width, height } = blockLayout(block);
    const layers = (block.layers ?? []) as Record<string, unknown>[];
    const inner: NetNode[] = layers.map((layer) => ({
      id: `${id}/${layer.id}`, type: 'layer', parentId: id, extent: 'parent' as const, draggable: false,
      position: positions.get(String(layer.id)) ?? { x: 10, y: 40 },
      data: { role: 'layer' as const, name: String(layer.id), kind: String(layer.kind), params: { ...((layer.params ?? {}) as Record<string, unknown>) }, owner: id, block: blockName },
    }));
    const names = new Set(layers.map((layer) => String(layer.id)));
    const innerEdges: NetEdge[] = [];
    for (const layer of layers) {
      ((layer.inputs ?? []) as string[]).forEach((ref, index) => {
        const { node, port } = splitRef(ref);
        if (!names.has(node)) return;  // fed by the block's input: drawn as the module layer's own input
        const source = inner.find((item) => item.data.name === node);
        innerEdges.push({ id: `${id}/${layer.id}:i${index}`, source: `${id}/${node}`, sourceHandle: port ?? ports(source)[0],
          target: `${id}/${layer.id}`, targetHandle: `i${index}`, data: { inner: true } });
      });
    }
    setNodes((current) => {
      const out: NetNode[] = [];
      for (const node of current) {
        out.push(node.id === id ? { ...node, style: { width, height }, width, height, data: { ...node.data, unfolded: true } } : shift(node, height - NODE_HEIGHT));
        if (node.id === id) out.push(...inner);
      }
      return out;
    });
    setEdges((current) => [...current, ...innerEdges]);
    window.setTimeout(() => flow.fitView({ ...FIT, nodes: [{ id }] }), 60);
  }, [nodes, modules, ports, setNodes, setEdges, flow]);

  const layoutAll = useCallback(() => {
    history.commit();
    setNodes((current) => {
      const top = current.filter((node) => !node.data.owner);
      const placed = new Map(layoutNetwork(top, edges.filter((edge) => !edge.data?.inner)).map((node) => [node.id, node.position]));
      return current.map((node) => (placed.has(node.id) ? { ...node, position: placed.get(node.id)! } : node));
    });
    edited();
    window.setTimeout(() => flow.fitView(FIT), 60);
  }, [setNodes, edges, edited, flow, history]);

  const findLayer = useCallback(() => {
    const node = nodes.find((item) => item.data.name === find.trim() && !item.data.owner);
    if (!node) return notify(`no layer '${find.trim()}' in this network`, 'error');
    setNodes((current) => current.map((item) => ({ ...item, selected: item.id === node.id })));
    setSelected(node.id);
    flow.setCenter(node.position.x + 95, node.position.y + 29, { zoom: 1, duration: 0 });
  }, [nodes, find, notify, setNodes, flow]);

  // -- files and import -------------------------------------------------------------------------
  const network = useMemo(() => toSpec(meta, nodes, edges, modules, ports), [meta, nodes, edges, modules, ports]);
  const openFile = useCallback(async (file: string) => {
    try {
      const document = await networksApi.open(file);
      load(document.network);
      setPath(document.path ?? file);
      setDirty(false);
      history.reset();
    } catch (error) { notify((error as Error).message, 'error'); }
  }, [load, notify, history]);
  const saveTo = useCallback(async (target: string, overwrite: boolean): Promise<string | null> => {
    try {
      const saved = await networksApi.save(target, network, overwrite);
      setPath(saved.path ?? target);
      setDirty(false);
      notify(`Saved ${saved.path}${saved.issues.length ? ` (${saved.issues.length} problem${saved.issues.length > 1 ? 's' : ''} left)` : ''}`);
      return null;
    } catch (error) { return (error as Error).message; }
  }, [network, notify]);
  const runImport = useCallback(async (source: string, className: string, inputs: { shape: number[]; dtype: string }[], keepPlaces: boolean) => {
    setBusy(true);
    try {
      const outputs = nodes.filter((node) => node.data.role === 'output').map((node) => node.data.name);
      const document = await networksApi.importModule({ source, class_name: className, inputs, name: meta.name,
        output_names: keepPlaces && outputs.length ? outputs : undefined });
      history.commit();
      load(document.network, keepPlaces ? new Map(nodes.map((node) => [node.id, node.position])) : undefined);
      setDirty(true);
      notify(`Imported ${className}: ${(document.network.layers as unknown[]).length} layers`);
    } catch (error) {
      setCode((current) => ({ ...current, problem: (error as Error).message }));
      notify(`Cannot import: ${(error as Error).message.split('\n')[0]}`, 'error');
    } finally { setBusy(false); }
  }, [nodes, meta.name, load, notify, history]);
  const applyCode = useCallback(() => {
    const classes = [...code.text.matchAll(/^class\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(/gm)].map((match) => match[1]);
    const className = classes[classes.length - 1] ?? code.className;
    if (!className) return notify('the code defines no class to import', 'error');
    runImport(code.text, className, exampleInputs(nodes), true);
  }, [code, nodes, runImport, notify]);

  const selectedNode = selected ? byId.get(selected) : undefined;
  const layerCount = nodes.filter((node) => node.data.role === 'layer' && !node.data.owner).length;
  const generalIssues = useMemo(() => (check?.issues ?? []).filter((issue) => layerCount > 0 || issue.code !== 'format'), [check, layerCount]);
  const palette = useMemo<ComponentSummary[]>(() => kinds.map((kind) => ({
    id: kind.name, title: kind.name, category: `nn-${kind.category}`, category_title: kind.category_title, summary: kind.summary,
    version: '', inputs: [], outputs: [],
  })), [kinds]);
  const canvas = useMemo(() => ({ kinds: kindMap, shapes, issues, modules, used, ports, toggleFold }),
    [kindMap, shapes, issues, modules, used, ports, toggleFold]);

  return (
    <NetCanvasContext.Provider value={canvas}>
      <div className="network-page" data-testid="network-page" style={visible ? undefined : { display: 'none' }}>
        <div className="net-toolbar">
          <input className="pipeline-name" value={meta.name} data-testid="network-name" onChange={(event) => { history.commit('name'); setMeta({ ...meta, name: event.target.value }); edited(); }} />
          <span className="path mono" data-testid="network-path">{path ?? 'not saved'}{dirty ? ' •' : ''}</span>
          <button onClick={() => (!dirty || window.confirm('Discard the unsaved changes?')) && newNetwork()} data-testid="network-new">New</button>
          <button onClick={() => (!dirty || window.confirm('Discard the unsaved changes?')) && setDialog('open')} data-testid="network-open">Open</button>
          <button onClick={() => (path ? saveTo(path, true).then((error) => error && notify(error, 'error')) : setDialog('save'))} data-testid="network-save">Save</button>
          <button onClick={() => setDialog('save')} data-testid="network-save-as">Save as</button>
          <button onClick={history.undo} disabled={!history.canUndo} title="Ctrl+Z" data-testid="network-undo">Undo</button>
          <button onClick={history.redo} disabled={!history.canRedo} title="Ctrl+Shift+Z" data-testid="network-redo">Redo</button>
          <button onClick={layoutAll} data-testid="network-layout">Auto-layout</button>
          <span className="spacer" />
          <input className="find" placeholder="find a layer by id" value={find} data-testid="layer-search"
            onChange={(event) => setFind(event.target.value)} onKeyDown={(event) => { if (event.key === 'Enter') findLayer(); }} />
          <span className={check?.ok ? 'ok' : 'problem'} data-testid="network-status">
            {check === null ? '' : check.ok ? `✓ ${layerCount} layers, shapes fit` : `⚠ ${check.issues.length} problem${check.issues.length > 1 ? 's' : ''}`}</span>
        </div>
        <div className="workbench">
          <Palette components={palette} onDrop={addLayer} onShowDocs={(spec) => setDocsKind(spec.id)} noun="layer kinds" />
          <main className="studio-center">
            <div className="canvas" ref={wrapper} data-testid="network-canvas">
              <ReactFlow nodes={nodes} edges={shownEdges} nodeTypes={netNodeTypes}
                onNodesChange={(changes) => { onNodesChange(changes); if (changes.some((change) => change.type === 'remove' || (change.type === 'position' && !change.dragging))) edited(); }}
                onEdgesChange={(changes) => { onEdgesChange(changes); if (changes.some((change) => change.type === 'remove')) { setEdges(compactSlots); edited(); } }}
                onConnect={onConnect} onlyRenderVisibleElements
                onNodeDragStart={() => history.commit()} onBeforeDelete={async () => { history.commit(); return true; }}
                onSelectionChange={({ nodes: chosen }) => setSelected(chosen.length === 1 ? chosen[0].id : null)}
                deleteKeyCode={['Delete', 'Backspace']} minZoom={0.05} maxZoom={2} defaultViewport={{ x: 0, y: 0, zoom: 1 }}>
                <Background gap={18} />
                <MiniMap pannable zoomable />
                <Controls />
              </ReactFlow>
              {layerCount === 0 && <div className="empty-hint">Drag layers from the palette, then connect each output (bottom) to an input (top): the input x, the layers, then the output y.</div>}
            </div>
          </main>
          <aside className="net-side">
            {docsKind && kindMap.get(docsKind) && !selectedNode && <KindDocs kind={kindMap.get(docsKind)!} onClose={() => setDocsKind(null)} />}
            <NetworkInspector node={selectedNode} kind={kindMap.get(selectedNode?.data.kind ?? '')} issues={selectedNode ? issues.get(selectedNode.id) ?? [] : []}
              allIssues={generalIssues} shapes={shapes} counts={{ layers: layerCount, edges: edges.length }}
              onParam={(name, value) => selectedNode && setParam(selectedNode, name, value)}
              onRename={(name) => (selectedNode ? rename(selectedNode, name) : null)}
              onShape={(shape, dtype) => {
                if (!selectedNode) return;
                history.commit(`shape:${selectedNode.id}`);
                updateNode(selectedNode.id, (node) => ({ ...node, data: { ...node.data, shape, dtype } }));
              }}
              onDelete={() => selectedNode && flow.deleteElements({ nodes: [{ id: selectedNode.id }] })} />
            <CodeView code={code} busy={busy} canImport={canImport} onApply={applyCode}
              onEdit={(text) => setCode((current) => ({ ...current, text, edited: true }))}
              onDiscard={() => { setCode((current) => ({ ...current, edited: false, problem: null })); setRefresh((count) => count + 1); }} />
            <ImportBox canImport={canImport} busy={busy} onImport={(source, className, text) => {
              const inputs = parseExamples(text);
              if (!inputs) return notify('example inputs: one line of sizes per input, e.g. 2, 4', 'error');
              runImport(source, className, inputs, false);
            }} />
          </aside>
        </div>
        {dialog === 'open' && <OpenDialog title="Open a network" load={() => networksApi.list().then((files) => files.map((file) => ({ ...file, nodes: file.layers })))}
          onClose={() => setDialog(null)} onOpen={(file) => { setDialog(null); openFile(file); }} />}
        {dialog === 'save' && <SaveAsDialog title="Save network as" initial={path ?? `networks/${meta.name || 'network'}.yaml`} onSave={saveTo} onClose={() => setDialog(null)} />}
      </div>
    </NetCanvasContext.Provider>
  );
}

export function NetworkEditor(props: { notify: (text: string, kind?: string) => void; visible: boolean }) {
  return <ReactFlowProvider><Editor {...props} /></ReactFlowProvider>;
}
