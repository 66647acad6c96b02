// Tidal Studio: palette, canvas, inspector, run panel. All logic lives in the Python API it calls.
import {
  Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useEdgesState, useNodesState, useReactFlow,
  type Connection, type FinalConnectionState,
} from '@xyflow/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api, type ComponentDetail, type ComponentSummary, type Issue, type RunDetail, type RunEvent } from './api';
import { CanvasContext } from './context';
import { OpenDialog, SaveAsDialog } from './Dialogs';
import { ComponentDocs, Inspector } from './Inspector';
import { autoLayout } from './layout';
import { ModelsPage } from './ModelsPage';
import { connectionProblem, freshId, fromPipeline, makeEdge, toPipeline, type PipelineMeta, type StudioEdge, type StudioNode } from './model';
import { OutputView } from './OutputView';
import { Palette } from './Palette';
import { RunsPanel } from './RunsPanel';
import { StreamsPanel } from './StreamsPanel';
import { NetworkEditor } from './NetworkEditor';
import { StudiesPage } from './StudiesPage';
import { tuneNodes } from './studies';
import { StudioNodeView } from './StudioNodeView';
import { useHistory } from './useHistory';

const nodeTypes = { component: StudioNodeView };
const LAST_PIPELINE = 'tidal.studio.lastPipeline';
type Tab = 'events' | 'log' | 'output' | 'history' | 'streams';

function Studio() {
  const flow = useReactFlow<StudioNode, StudioEdge>();
  const [components, setComponents] = useState<ComponentSummary[]>([]);
  const specs = useMemo(() => new Map(components.map((spec) => [spec.id, spec])), [components]);
  const [details, setDetails] = useState<Record<string, ComponentDetail>>({});
  const [nodes, setNodes, onNodesChange] = useNodesState<StudioNode>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<StudioEdge>([]);
  const [meta, setMeta] = useState<PipelineMeta>({ name: 'untitled', rest: {} });
  const [path, setPath] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [docsFor, setDocsFor] = useState<string | null>(null);
  const [toast, setToast] = useState<{ text: string; kind: string } | null>(null);
  const [dialog, setDialog] = useState<'open' | 'save' | null>(null);
  const [showCode, setShowCode] = useState(false);
  const [code, setCode] = useState('');
  const [tab, setTab] = useState<Tab>('events');
  const [view, setView] = useState<'pipeline' | 'studies' | 'models' | 'networks'>(() => {
    const hash = window.location.hash;
    return hash.includes('view=studies') ? 'studies' : hash.includes('view=models') ? 'models'
      : hash.includes('view=networks') ? 'networks' : 'pipeline';
  });
  const [networksSeen, setNetworksSeen] = useState(view === 'networks');
  useEffect(() => { if (view === 'networks') setNetworksSeen(true); }, [view]);
  const [runId, setRunId] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [executors, setExecutors] = useState<string[]>(['local']);
  const [executor, setExecutor] = useState('local');
  const [statuses, setStatuses] = useState<Record<string, string>>({});
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [runDetail, setRunDetail] = useState<RunDetail | null>(null);
  const [output, setOutput] = useState<{ id: number; title: string } | null>(null);
  const [tallPanel, setTallPanel] = useState(false);
  const [log, setLog] = useState<{ node: string; text: string } | null>(null);
  const [historyRefresh, setHistoryRefresh] = useState(0);
  const wrapper = useRef<HTMLDivElement>(null);
  const clipboard = useRef<{ nodes: StudioNode[]; edges: StudioEdge[] } | null>(null);
  const loadRunRef = useRef<(id: string) => Promise<void>>(async () => undefined);

  const notify = useCallback((text: string, kind = 'info') => {
    setToast({ text, kind });
    window.setTimeout(() => setToast((current) => (current?.text === text ? null : current)), kind === 'error' ? 7000 : 3500);
  }, []);
  const history = useHistory(nodes, edges, setNodes, setEdges, () => setDirty(true));
  const pipeline = useMemo(() => toPipeline(meta, nodes, edges, specs), [meta, nodes, edges, specs]);

  useEffect(() => { api.components().then(setComponents).catch((error: Error) => notify(error.message, 'error')); }, [notify]);
  useEffect(() => {
    api.info().then((info) => { setExecutors(info.executors); setExecutor(info.executor); }).catch(() => undefined);
  }, []);
  const needDetail = useCallback((id: string) => {
    if (details[id]) return;
    api.component(id).then((detail) => setDetails((current) => ({ ...current, [id]: detail }))).catch(() => undefined);
  }, [details]);

  // -- validation before anything runs ----------------------------------------------------------
  const validationKey = useMemo(() => JSON.stringify({ ...pipeline, layout: undefined }), [pipeline]);
  useEffect(() => {
    if (!components.length) return;
    const timer = window.setTimeout(() => {
      api.validate(JSON.parse(validationKey)).then((found) => setIssues(found.issues)).catch(() => undefined);
    }, 250);
    return () => window.clearTimeout(timer);
  }, [validationKey, components.length]);
  useEffect(() => {
    if (!showCode) return;
    const timer = window.setTimeout(() => {
      api.python(JSON.parse(validationKey)).then((found) => setCode(found.code)).catch((error: Error) => setCode(`# cannot export yet: ${error.message}`));
    }, 300);
    return () => window.clearTimeout(timer);
  }, [validationKey, showCode]);

  // -- files -------------------------------------------------------------------------------------
  const openFile = useCallback(async (file: string) => {
    try {
      const document = await api.open(file);
      const loaded = fromPipeline(document.pipeline, specs);
      const unplaced = new Set(loaded.nodes.filter((node) => !node.data.placed).map((node) => node.id));
      const positioned = unplaced.size ? autoLayout(loaded.nodes, loaded.edges, specs, unplaced).map((node) =>
        (unplaced.has(node.id) ? { ...node, data: { ...node.data, placed: false } } : node)) : loaded.nodes;
      setNodes(positioned);
      setEdges(loaded.edges);
      setMeta(loaded.meta);
      setPath(document.path);
      setIssues(document.issues);
      setDirty(false);
      setStatuses({});
      setRunDetail(null);
      setSelected(null);
      history.reset();
      window.location.hash = `file=${encodeURIComponent(document.path)}`;
      window.localStorage.setItem(LAST_PIPELINE, document.path);
      window.setTimeout(() => flow.fitView({ padding: 0.15, maxZoom: 1.2 }), 50);
      const [latest] = await api.runs(loaded.meta.name, 1);  // show the last run's statuses and outputs
      if (latest) await loadRunRef.current(latest.id);
    } catch (error) {
      notify((error as Error).message, 'error');
    }
  }, [specs, setNodes, setEdges, history, flow, notify]);

  useEffect(() => {
    if (!components.length) return;
    const match = window.location.hash.match(/file=([^&]+)/);
    if (match) { openFile(decodeURIComponent(match[1])); return; }
    // no file named: open the workspace's pipeline (the last one opened here, or the only one)
    api.pipelines().then((files) => {
      const usable = files.filter((file) => !file.error && !file.skipped);
      const last = window.localStorage.getItem(LAST_PIPELINE);
      const pick = usable.find((file) => file.path === last) ?? (usable.length === 1 ? usable[0] : undefined);
      if (pick) openFile(pick.path);
    }).catch(() => undefined);
  }, [components.length]); // eslint-disable-line react-hooks/exhaustive-deps

  const saveTo = useCallback(async (target: string, overwrite: boolean): Promise<string | null> => {
    try {
      const saved = await api.save(target, pipeline, overwrite);
      setPath(saved.path);
      setDirty(false);
      setIssues(saved.issues);
      window.location.hash = `file=${encodeURIComponent(saved.path)}`;
      notify(`Saved ${saved.path}`);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }, [pipeline, notify]);

  function newPipeline() {
    setNodes([]); setEdges([]); setMeta({ name: 'untitled', rest: {} }); setPath(null); setDirty(false);
    setStatuses({}); setRunDetail(null); history.reset(); window.location.hash = '';
  }

  // -- editing -----------------------------------------------------------------------------------
  const addComponent = useCallback((spec: ComponentSummary, clientX: number, clientY: number) => {
    const box = wrapper.current?.getBoundingClientRect();
    if (!box || clientX < box.left || clientX > box.right || clientY < box.top || clientY > box.bottom) return;
    const position = flow.screenToFlowPosition({ x: clientX, y: clientY });
    history.commit();
    const id = freshId(spec.id.split('.').pop() ?? 'node', new Set(nodes.map((node) => node.id)));
    setNodes((current) => [
      ...current.map((node) => ({ ...node, selected: false })),
      { id, type: 'component', position, selected: true,
        data: { component: spec.id, params: {}, rest: {}, inputOrder: [], layout: null, placed: true } },
    ]);
    setSelected(id);
    needDetail(spec.id);
  }, [flow, history, nodes, setNodes, needDetail]);

  const problemOf = useCallback((source: string | null, sourceHandle: string | null, target: string | null, targetHandle: string | null) =>
    connectionProblem(source ?? '', sourceHandle, target ?? '', targetHandle, nodes, edges.filter((edge) => !(edge.target === target && edge.targetHandle === targetHandle)), specs),
  [nodes, edges, specs]);

  const onConnect = useCallback((connection: Connection) => {
    const problem = problemOf(connection.source, connection.sourceHandle, connection.target, connection.targetHandle);
    if (problem) return notify(`Not connected: ${problem}`, 'error');
    history.commit();
    setEdges((current) => [
      ...current.filter((edge) => !(edge.target === connection.target && edge.targetHandle === connection.targetHandle)),
      makeEdge(connection.source, connection.sourceHandle ?? 'output', connection.target, connection.targetHandle ?? '', ''),
    ]);
  }, [problemOf, history, setEdges, notify]);

  const onConnectEnd = useCallback((_: MouseEvent | TouchEvent, state: FinalConnectionState) => {
    if (!state.toHandle || state.isValid !== false || !state.fromHandle) return;
    const [from, to] = state.fromHandle.type === 'source' ? [state.fromHandle, state.toHandle] : [state.toHandle, state.fromHandle];
    const problem = problemOf(from.nodeId, from.id ?? null, to.nodeId, to.id ?? null);
    if (problem) notify(`Not connected: ${problem}`, 'error');
  }, [problemOf, notify]);

  const setParam = useCallback((nodeId: string, name: string, value: unknown) => {
    history.commit(`param:${nodeId}:${name}`);
    setNodes((current) => current.map((node) => {
      if (node.id !== nodeId) return node;
      const params = { ...node.data.params };
      if (value === undefined) delete params[name]; else params[name] = value;
      return { ...node, data: { ...node.data, params } };
    }));
  }, [history, setNodes]);

  const renameNode = useCallback((from: string, to: string): string | null => {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(to)) return 'letters, digits, _ and -, not starting with a digit';
    if (nodes.some((node) => node.id === to)) return `there is already a node '${to}'`;
    history.commit();
    setNodes((current) => current.map((node) => (node.id === from ? { ...node, id: to, data: { ...node.data, layout: node.data.layout } } : node)));
    setEdges((current) => current.map((edge) => {
      if (edge.source !== from && edge.target !== from) return edge;
      const source = edge.source === from ? to : edge.source;
      const target = edge.target === from ? to : edge.target;
      return makeEdge(source, edge.sourceHandle ?? 'output', target, edge.targetHandle ?? '', edge.source === from ? '' : edge.data?.ref ?? '');
    }));
    setStatuses((current) => { const next = { ...current }; delete next[from]; return next; });
    setSelected(to);
    return null;
  }, [nodes, history, setNodes, setEdges]);

  const layoutAll = useCallback(() => {
    history.commit();
    setNodes((current) => autoLayout(current, edges, specs));
    window.setTimeout(() => flow.fitView({ padding: 0.15, maxZoom: 1.2 }), 50);
  }, [history, setNodes, edges, specs, flow]);

  // -- keyboard: undo, redo, copy, paste -----------------------------------------------------------
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (view !== 'pipeline') return;  // the other pages have their own keys
      const target = event.target as HTMLElement;
      if (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) return;
      const mod = event.ctrlKey || event.metaKey;
      if (!mod && (event.key === 'Delete' || event.key === 'Backspace')) {
        const chosenNodes = nodes.filter((node) => node.selected);
        const chosenEdges = edges.filter((edge) => edge.selected);
        if (chosenNodes.length || chosenEdges.length) {
          event.preventDefault();
          flow.deleteElements({ nodes: chosenNodes, edges: chosenEdges });
        }
        return;
      }
      if (!mod) return;
      const key = event.key.toLowerCase();
      if (key === 'z' && !event.shiftKey) { event.preventDefault(); history.undo(); }
      else if ((key === 'z' && event.shiftKey) || key === 'y') { event.preventDefault(); history.redo(); }
      else if (key === 'c') {
        const chosen = nodes.filter((node) => node.selected);
        const ids = new Set(chosen.map((node) => node.id));
        clipboard.current = { nodes: chosen, edges: edges.filter((edge) => ids.has(edge.source) && ids.has(edge.target)) };
      } else if (key === 'v' && clipboard.current?.nodes.length) {
        event.preventDefault();
        history.commit();
        const taken = new Set(nodes.map((node) => node.id));
        const renamed = new Map<string, string>();
        for (const node of clipboard.current.nodes) {
          const id = freshId(node.id.replace(/_\d+$/, ''), taken);
          taken.add(id);
          renamed.set(node.id, id);
        }
        const pasted = clipboard.current.nodes.map((node) => ({
          ...node, id: renamed.get(node.id)!, selected: true, position: { x: node.position.x + 40, y: node.position.y + 40 },
          data: { ...node.data, params: structuredClone(node.data.params), layout: null, placed: true },
        }));
        const pastedEdges = clipboard.current.edges.map((edge) =>
          makeEdge(renamed.get(edge.source)!, edge.sourceHandle ?? 'output', renamed.get(edge.target)!, edge.targetHandle ?? '', ''));
        setNodes((current) => [...current.map((node) => ({ ...node, selected: false })), ...pasted]);
        setEdges((current) => [...current, ...pastedEdges]);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [nodes, edges, history, setNodes, setEdges, flow, view]);

  // -- runs --------------------------------------------------------------------------------------
  const loadRun = useCallback((id: string) => api.runDetail(id).then((detail) => {
    setRunDetail(detail);
    setRunId(detail.id);
    setStatuses(Object.fromEntries(Object.entries(detail.nodes).map(([node, item]) => [node, item.cached ? 'cached' : item.status])));
  }), []);
  loadRunRef.current = loadRun;

  const openRunPipeline = useCallback(async (id: string) => {
    if (dirty && !window.confirm('Discard the unsaved changes?')) return;
    const detail = await api.runDetail(id);
    if (!detail.pipeline_data) return notify(`run ${id} has no readable pipeline`, 'error');
    const loaded = fromPipeline(detail.pipeline_data, specs);
    const unplaced = new Set(loaded.nodes.filter((node) => !node.data.placed).map((node) => node.id));
    setNodes(unplaced.size ? autoLayout(loaded.nodes, loaded.edges, specs, unplaced) : loaded.nodes);
    setEdges(loaded.edges);
    setMeta(loaded.meta);
    setPath(null);
    setDirty(true);
    setSelected(null);
    history.reset();
    window.location.hash = '';
    await loadRun(id);
    window.setTimeout(() => flow.fitView({ padding: 0.15, maxZoom: 1.2 }), 50);
  }, [dirty, specs, setNodes, setEdges, history, loadRun, flow, notify]);

  const startRun = useCallback(async (options: { until?: string; from_node?: string } = {}) => {
    try {
      const started = await api.run(pipeline, { path, executor, ...options });
      setRunId(started.run_id);
      setRunning(true);
      setEvents([]);
      setTab('events');
      setStatuses(Object.fromEntries(started.nodes.map((node) => [node, 'queued'])));
      const source = api.events(started.run_id);
      source.onmessage = (message) => {
        const event = JSON.parse(message.data) as RunEvent;
        setEvents((current) => [...current, event]);
        if (event.node_id) setStatuses((current) => ({ ...current, [event.node_id!]: event.status }));
      };
      source.addEventListener('end', () => {
        source.close();
        setRunning(false);
        loadRun(started.run_id).then(() => setHistoryRefresh((count) => count + 1));
      });
    } catch (error) {
      if (error instanceof ApiError && error.issues.length) setIssues(error.issues);
      notify(`Cannot run: ${(error as Error).message.split('\n')[0]}`, 'error');
    }
  }, [pipeline, path, executor, loadRun, notify]);

  const openOutput = useCallback((node: string, port: string) => {
    const found = runDetail?.nodes[node]?.outputs[port];
    if (found?.id != null) { setOutput({ id: found.id, title: `${node}.${port}` }); setTab('output'); }
  }, [runDetail]);

  const showLog = useCallback((node: string) => {
    if (!runId) return;
    api.log(runId, node).then((found) => { setLog({ node, text: found.text || '(this node printed nothing)' }); setTab('log'); });
  }, [runId]);

  const panelToggled = useRef(false);
  useEffect(() => {  // the canvas changed height with the bottom panel: fit the graph again once it has been measured
    if (!panelToggled.current) { panelToggled.current = true; return undefined; }
    const timer = window.setTimeout(() => flow.fitView({ padding: 0.15, maxZoom: 1.2 }), 300);
    return () => window.clearTimeout(timer);
  }, [tallPanel]); // eslint-disable-line react-hooks/exhaustive-deps
  const tunes = useMemo(() => tuneNodes(nodes), [nodes]);
  const selectedNode = nodes.find((node) => node.id === selected);
  useEffect(() => { if (selectedNode) needDetail(selectedNode.data.component); }, [selectedNode?.data.component]); // eslint-disable-line
  useEffect(() => { if (docsFor) needDetail(docsFor); }, [docsFor]); // eslint-disable-line
  // a new, untouched canvas is not a mistake: "the pipeline has no nodes" waits until the user has done something
  const pristine = nodes.length === 0 && !dirty && path === null;
  const shown = useMemo(() => (pristine ? issues.filter((issue) => issue.code !== 'empty') : issues), [pristine, issues]);
  const globalIssues = shown.filter((issue) => !issue.node);
  const canvas = useMemo(() => ({ specs, statuses, issues: shown, runNodes: runDetail?.nodes ?? {}, openOutput }), [specs, statuses, shown, runDetail, openOutput]);

  return (
    <CanvasContext.Provider value={canvas}>
      <div className="studio">
        <header className="toolbar">
          <span className="brand">◗ Tidal Studio</span>
          {view !== 'networks' && <>
          <input className="pipeline-name" value={meta.name} data-testid="pipeline-name"
            onChange={(event) => { setMeta({ ...meta, name: event.target.value }); setDirty(true); }} />
          <span className="path mono" data-testid="pipeline-path">{path ?? 'not saved'}{dirty ? ' •' : ''}</span>
          <button onClick={() => (!dirty || window.confirm('Discard the unsaved changes?')) && newPipeline()}>New</button>
          <button onClick={() => (!dirty || window.confirm('Discard the unsaved changes?')) && setDialog('open')} data-testid="open">Open</button>
          <button onClick={() => (path ? saveTo(path, true).then((error) => error && notify(error, 'error')) : setDialog('save'))} data-testid="save">Save</button>
          <button onClick={() => setDialog('save')} data-testid="save-as">Save as</button>
          <span className="sep" />
          <button onClick={history.undo} disabled={!history.canUndo} title="Ctrl+Z" data-testid="undo">Undo</button>
          <button onClick={history.redo} disabled={!history.canRedo} title="Ctrl+Shift+Z" data-testid="redo">Redo</button>
          <button onClick={layoutAll} data-testid="auto-layout">Auto-layout</button>
          <span className="sep" />
          {executors.length > 1 && (
            <select value={executor} onChange={(event) => setExecutor(event.target.value)} title="where the run's nodes go"
              data-testid="executor">
              {executors.map((kind) => <option key={kind} value={kind}>{kind === 'ray' ? 'on Ray' : 'local workers'}</option>)}
            </select>
          )}
          <button className="primary" onClick={() => startRun()} disabled={running} data-testid="run">▶ Run</button>
          <button className="danger" onClick={() => runId && api.cancel(runId)} disabled={!running} data-testid="cancel">■ Cancel</button>
          </>}
          <span className="spacer" />
          <button className={view === 'pipeline' ? 'active' : ''} onClick={() => setView('pipeline')} data-testid="view-pipeline">Pipeline</button>
          <button className={view === 'studies' ? 'active' : ''} onClick={() => setView('studies')} data-testid="view-studies">Studies</button>
          <button className={view === 'models' ? 'active' : ''} onClick={() => setView('models')} data-testid="view-models">Models</button>
          <button className={view === 'networks' ? 'active' : ''} onClick={() => setView('networks')} data-testid="view-networks">Networks</button>
          {view !== 'networks' && <><span className="sep" />
          <button className={showCode ? 'active' : ''} onClick={() => setShowCode(!showCode)} data-testid="toggle-code">{'</>'} Python</button></>}
        </header>
        {view === 'studies' && <StudiesPage pipeline={pipeline} path={path} tuneNodes={tunes} notify={notify} />}
        {view === 'models' && <ModelsPage notify={notify} onOpenRun={(id) => {
          setView('pipeline');
          setTab('history');
          openRunPipeline(id).catch((error: Error) => notify(error.message, 'error'));
        }} />}
        {networksSeen && <NetworkEditor notify={notify} visible={view === 'networks'} />}
        <div className="workbench" style={view !== 'pipeline' ? { display: 'none' } : undefined}>
          <Palette components={components} onDrop={addComponent} onShowDocs={(spec) => { setDocsFor(spec.id); setSelected(null); }} />
          <main className="studio-center">
            <div className="canvas" ref={wrapper} data-testid="canvas">
              <ReactFlow
                nodes={nodes} edges={edges} nodeTypes={nodeTypes}
                onNodesChange={onNodesChange} onEdgesChange={onEdgesChange}
                onConnect={onConnect} onConnectEnd={onConnectEnd}
                isValidConnection={(connection) => problemOf(connection.source, connection.sourceHandle ?? null, connection.target, connection.targetHandle ?? null) === null}
                onBeforeDelete={async () => { history.commit(); return true; }}
                onNodeDragStart={() => history.commit()}
                onNodeDragStop={(_, __, moved) => {
                  const ids = new Set(moved.map((node) => node.id));
                  setNodes((current) => current.map((node) => (ids.has(node.id) ? { ...node, data: { ...node.data, placed: true, layout: null } } : node)));
                }}
                onSelectionChange={({ nodes: chosen }) => { setSelected(chosen.length === 1 ? chosen[0].id : null); if (chosen.length) setDocsFor(null); }}
                deleteKeyCode={null}
                defaultEdgeOptions={{ style: { strokeWidth: 1.6 } }}
                defaultViewport={{ x: 0, y: 0, zoom: 1 }} minZoom={0.2} maxZoom={2}
              >
                <Background gap={18} />
                {!tallPanel && <MiniMap pannable zoomable nodeStrokeWidth={3} />}
                <Controls />
              </ReactFlow>
              {nodes.length === 0 && <div className="empty-hint">Drag components from the palette onto the canvas, then connect an output port (right) to an input port (left).</div>}
            </div>
            <section className={`studio-bottom${tallPanel ? ' tall' : ''}`} data-testid="bottom-panel">
              <nav className="tabs">
                {(['events', 'log', 'output', 'history', 'streams'] as Tab[]).map((name) => (
                  <button key={name} className={tab === name ? 'active' : ''} onClick={() => setTab(name)} data-testid={`tab-${name}`}>{name}</button>
                ))}
                <span className="spacer" />
                <button onClick={() => setTallPanel(!tallPanel)} data-testid="toggle-panel-size"
                  title={tallPanel ? 'give the canvas its room back' : 'make this panel taller (reports, long tables)'}>{tallPanel ? '▾ Smaller' : '▴ Taller'}</button>
                {runId && <span className="mono muted" data-testid="run-id">run {runId}{running ? ' (running)' : ` · ${runDetail?.status ?? ''}`}</span>}
              </nav>
              <div className="tab-body">
                {tab === 'events' && (
                  <ul className="events" data-testid="events">
                    {events.filter((event) => event.status !== 'queued').map((event) => (
                      <li key={event.seq}><span className="muted">{event.time ? new Date(event.time * 1000).toLocaleTimeString() : ''}</span>{' '}
                        <b>{event.node_id ?? 'run'}</b> <span className={`pill status-${event.status}`}>{event.status}</span>
                        {event.duration_s != null ? ` ${event.duration_s.toFixed(2)} s` : ''}{event.error ? <span className="problem"> {event.error}</span> : null}</li>
                    ))}
                    {events.length === 0 && <li className="muted">Run the pipeline to see each node's progress here.</li>}
                  </ul>
                )}
                {tab === 'log' && (log ? <pre className="log" data-testid="log">{`# ${log.node}\n${log.text}`}</pre> : <p className="muted">Select a node after a run and press “Log”.</p>)}
                {tab === 'output' && (output ? <OutputView artifactId={output.id} title={output.title} /> : <p className="muted">Click an output port (▸) of a finished node.</p>)}
                {tab === 'history' && <RunsPanel refresh={historyRefresh} onShow={(id) => loadRun(id).catch((error: Error) => notify(error.message, 'error'))}
                  onOpen={(id) => openRunPipeline(id).catch((error: Error) => notify(error.message, 'error'))} />}
                {tab === 'streams' && <StreamsPanel />}
              </div>
            </section>
          </main>
          <aside className="studio-right">
            {showCode && (
              <div className="code-panel" data-testid="code-panel">
                <div className="output-bar"><strong>Python</strong><span className="spacer" />
                  <button onClick={() => {
                    const link = document.createElement('a');
                    link.href = URL.createObjectURL(new Blob([code], { type: 'text/x-python' }));
                    link.download = `${meta.name || 'pipeline'}.py`;
                    link.click();
                  }}>Export .py</button></div>
                <pre className="code">{code}</pre>
              </div>
            )}
            {selectedNode ? (
              <Inspector node={selectedNode} edges={edges} detail={details[selectedNode.data.component]} pipelineName={meta.name}
                issues={issues} run={runDetail?.nodes[selectedNode.id]} runRefresh={historyRefresh}
                onParam={(name, value) => setParam(selectedNode.id, name, value)}
                onRunUntil={() => startRun({ until: selectedNode.id })} onRunFrom={() => startRun({ from_node: selectedNode.id })}
                onOpenOutput={(port) => openOutput(selectedNode.id, port)} onLog={() => showLog(selectedNode.id)}
                onRename={(id) => renameNode(selectedNode.id, id)}
                onDelete={() => flow.deleteElements({ nodes: [{ id: selectedNode.id }] })} />
            ) : docsFor && details[docsFor] ? (
              <ComponentDocs detail={details[docsFor]} />
            ) : (
              <div className="inspector">
                <h3>{meta.name}</h3>
                <p className="muted">{nodes.length} nodes · {edges.length} connections</p>
                <h4>Problems</h4>
                {pristine && shown.length === 0 ? <p className="muted" data-testid="empty-canvas">Drag a component from the palette to start, or open a pipeline.</p>
                  : shown.length === 0 ? <p className="ok" data-testid="no-issues">No problems: ready to run.</p> : (
                  <ul className="issue-list" data-testid="issue-list">{shown.map((issue, index) => (
                    <li key={index}><b>{[issue.node, issue.port, issue.param].filter(Boolean).join(' · ') || 'pipeline'}</b>: {issue.message}</li>
                  ))}</ul>
                )}
                {globalIssues.length > 0 && <p className="muted">Select a node to edit its parameters.</p>}
              </div>
            )}
          </aside>
        </div>
        {toast && <div className={`toast ${toast.kind}`} data-testid="toast" onClick={() => setToast(null)}>{toast.text}</div>}
        {dialog === 'open' && <OpenDialog onClose={() => setDialog(null)} onOpen={(file) => { setDialog(null); openFile(file); }} />}
        {dialog === 'save' && <SaveAsDialog initial={path ?? `pipelines/${meta.name || 'untitled'}.yaml`} onSave={saveTo} onClose={() => setDialog(null)} />}
      </div>
    </CanvasContext.Provider>
  );
}

export function App() {
  return <ReactFlowProvider><Studio /></ReactFlowProvider>;
}
