// Models and services: registered models with their versions (lineage, aliases, tags, signature, metrics);
// register a run's Model output, move an alias, deploy a model as a local service, watch its health and
// metrics, send it a test request from a form built from the model's signature. All through /api.
import { useCallback, useEffect, useMemo, useState } from 'react';
import {
  formatMs, inputKind, metricPairs, modelsApi, outputLines, rowFromForm, servedWhat,
  type InferAnswer, type ModelDetail, type ModelOutput, type ModelSummary, type ModelVersion, type Service, type ServiceMetrics,
} from './models';
import { formatValue } from './studies';

interface Props {
  notify: (text: string, kind?: string) => void;
  onOpenRun: (runId: string) => void;
  refreshSeconds?: number;
}

const failed = (notify: Props['notify']) => (error: Error) => notify(error.message, 'error');

function RegisterBox({ outputs, onRegistered, notify }: { outputs: ModelOutput[]; onRegistered: (name: string) => void; notify: Props['notify'] }) {
  const [choice, setChoice] = useState('');
  const [name, setName] = useState('');
  const [alias, setAlias] = useState('');
  useEffect(() => { if (!choice && outputs.length) setChoice(`${outputs[0].run_id}|${outputs[0].node_id}|${outputs[0].port}`); }, [outputs, choice]);
  const register = () => {
    const [run_id, node_id, port] = choice.split('|');
    modelsApi.register({ run_id, node_id, port, name: name.trim(), alias: alias.trim() || null })
      .then((version) => { notify(`Registered ${version.model_uri}${version.aliases.length ? ` (${version.aliases.join(', ')})` : ''}`); onRegistered(version.name); })
      .catch(failed(notify));
  };
  return (
    <div className="models-register" data-testid="register-box">
      <h4>Register a model</h4>
      {outputs.length ? (
        <select value={choice} onChange={(event) => setChoice(event.target.value)} data-testid="register-output" title="a Model output of a recent run">
          {outputs.map((item) => (
            <option key={`${item.run_id}|${item.node_id}|${item.port}`} value={`${item.run_id}|${item.node_id}|${item.port}`}>
              {item.pipeline} · {item.node_id}.{item.port} · run {item.run_id}
            </option>
          ))}
        </select>
      ) : <p className="muted">No run has a Model output yet: run a pipeline with a trainer first.</p>}
      <input placeholder="model name, e.g. churn" value={name} onChange={(event) => setName(event.target.value)} data-testid="register-name" />
      <input placeholder="alias (optional), e.g. production" value={alias} onChange={(event) => setAlias(event.target.value)} data-testid="register-alias" />
      <button className="primary" disabled={!choice || !name.trim()} onClick={register} data-testid="register-submit">Register</button>
    </div>
  );
}

function VersionsTable({ detail, onOpenRun }: { detail: ModelDetail; onOpenRun: (runId: string) => void }) {
  return (
    <div className="grid-scroll">
      <table className="grid" data-testid="versions">
        <thead><tr><th>version</th><th>aliases</th><th>flavor · task</th><th>made by</th><th>metrics of its run</th><th>tags</th><th>registered</th></tr></thead>
        <tbody>{detail.versions.map((version) => (
          <tr key={version.version} data-testid={`version-${version.version}`}>
            <td className="mono">{version.version}</td>
            <td>{version.aliases.map((alias) => <span key={alias} className="pill alias">{alias}</span>)}</td>
            <td>{version.flavor} · {version.task}</td>
            <td>{version.run_id ? (
              <button className="link" onClick={() => onOpenRun(version.run_id!)} data-testid={`version-run-${version.version}`}
                title="open the pipeline as this run used it, with its statuses and outputs">
                run <span className="mono">{version.run_id}</span> · node <span className="mono">{version.node_id}</span>
              </button>) : <span className="muted">not recorded</span>}
              {version.run_status === 'missing' && <span className="muted"> (run deleted)</span>}
            </td>
            <td className="note">{metricPairs(version.metrics).map(([name, value]) => `${name} ${formatValue(value)}`).join(' · ') || '—'}</td>
            <td>{Object.entries(version.tags).map(([key, value]) => `${key}=${value}`).join(', ')}</td>
            <td>{version.created_at ? new Date(version.created_at).toLocaleString() : ''}</td>
          </tr>
        ))}</tbody>
      </table>
    </div>
  );
}

function ModelView({ detail, onOpenRun, onChanged, onDeployed, notify }: {
  detail: ModelDetail; onOpenRun: (runId: string) => void; onChanged: () => void; onDeployed: (service: Service) => void; notify: Props['notify'];
}) {
  const [alias, setAlias] = useState('production');
  const [version, setVersion] = useState<number>(detail.latest_version ?? 1);
  const [target, setTarget] = useState('');
  const targets = useMemo(() => [
    ...Object.keys(detail.aliases).sort().map((name) => ({ key: `alias:${name}`, label: `alias ${name} (follows it)` })),
    ...detail.versions.map((item) => ({ key: `version:${item.version}`, label: `version ${item.version}` })),
    { key: 'newest', label: 'the newest version (follows it)' },
  ], [detail]);
  useEffect(() => { if (!targets.some((item) => item.key === target)) setTarget(targets[0].key); }, [targets, target]);
  useEffect(() => { setVersion(detail.latest_version ?? 1); }, [detail.name, detail.latest_version]);
  const newest: ModelVersion | undefined = detail.versions[0];

  const promote = () => modelsApi.setAlias(detail.name, alias.trim(), version)
    .then((answer) => { notify(`models:/${detail.name}@${answer.alias} → version ${answer.version}${answer.previous ? ` (was ${answer.previous})` : ''}`); onChanged(); })
    .catch(failed(notify));
  const deploy = () => {
    const [kind, value] = target.split(':');
    const body = kind === 'alias' ? { model: detail.name, alias: value } : kind === 'version' ? { model: detail.name, version: Number(value) } : { model: detail.name };
    modelsApi.deploy(body).then((service) => { notify(`Starting service ${service.name} on port ${service.port}`); onDeployed(service); }).catch(failed(notify));
  };
  return (
    <div className="model-view" data-testid="model-detail">
      <div className="output-bar">
        <strong data-testid="model-title">{detail.name}</strong>
        {Object.entries(detail.aliases).sort().map(([name, number]) => <span key={name} className="pill alias" data-testid={`alias-${name}`}>{name} → {number}</span>)}
        <span className="spacer" />
        {Object.entries(detail.tags).map(([key, value]) => <span key={key} className="muted">{key}={value}</span>)}
      </div>
      {detail.description && <p className="muted">{detail.description}</p>}
      <VersionsTable detail={detail} onOpenRun={onOpenRun} />
      <div className="model-actions">
        <div className="model-action">
          <h4>Promote an alias</h4>
          <input value={alias} onChange={(event) => setAlias(event.target.value)} data-testid="promote-alias" list="known-aliases" />
          <datalist id="known-aliases">{Object.keys(detail.aliases).map((name) => <option key={name} value={name} />)}</datalist>
          <select value={version} onChange={(event) => setVersion(Number(event.target.value))} data-testid="promote-version">
            {detail.versions.map((item) => <option key={item.version} value={item.version}>version {item.version}</option>)}
          </select>
          <button onClick={promote} disabled={!alias.trim()} data-testid="promote-submit" title="services that follow this alias swap to the version">Promote</button>
        </div>
        <div className="model-action">
          <h4>Deploy locally</h4>
          <select value={target} onChange={(event) => setTarget(event.target.value)} data-testid="deploy-target">
            {targets.map((item) => <option key={item.key} value={item.key}>{item.label}</option>)}
          </select>
          <button className="primary" onClick={deploy} data-testid="deploy-submit" title="tidal deploy on this machine, loopback only">▶ Deploy</button>
        </div>
        {newest && (
          <div className="model-action">
            <h4>Signature (version {newest.version})</h4>
            <p className="mono signature" data-testid="signature">
              {newest.signature.inputs.map((item) => `${item.name}: ${item.dtype ?? '?'}`).join(', ')}
              {' → '}{newest.signature.outputs.map((item) => item.name).join(', ')}
            </p>
            {newest.package_error && <p className="problem">{newest.package_error}</p>}
          </div>
        )}
      </div>
    </div>
  );
}

function ServiceView({ service, metrics, model, onStop, notify }: {
  service: Service; metrics: ServiceMetrics | null; model: ModelDetail | null; onStop: () => void; notify: Props['notify'];
}) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [answer, setAnswer] = useState<InferAnswer | null>(null);
  const served = model?.versions.find((item) => String(item.version) === service.served_versions[0]) ?? model?.versions[0];
  const inputs = served?.signature.inputs ?? [];
  const send = () => {
    const { row, problems } = rowFromForm(inputs, values);
    if (problems.length) { notify(problems.join('; '), 'error'); return; }
    modelsApi.infer(service.name, row).then(setAnswer).catch(failed(notify));
  };
  const running = !['exited', 'stopped'].includes(service.state);
  return (
    <div className="service-view" data-testid="service-detail">
      <div className="output-bar">
        <strong>{service.name}</strong>
        <span className={`pill service-${service.state.replace(' ', '-')}`}>{service.state}</span>
        <span className="muted">{servedWhat(service.source)}{service.served_versions.length ? ` · serving version ${service.served_versions.join(', ')}` : ''}</span>
        <span className="spacer" />
        <button className="danger" onClick={onStop} disabled={!running} data-testid="service-stop">■ Stop</button>
      </div>
      {service.reason && service.state !== 'ready' && <p className="muted">{service.reason}</p>}
      {metrics && (
        <>
          <div className="metric-cards" data-testid="service-metrics">
            <div><span>requests</span><b data-testid="metric-requests">{metrics.requests}</b></div>
            <div><span>per second</span><b data-testid="metric-rate">{metrics.requests_per_s === null ? '—' : formatValue(metrics.requests_per_s)}</b></div>
            <div><span>p50</span><b data-testid="metric-p50">{formatMs(metrics.latency_ms.p50)}</b></div>
            <div><span>p95</span><b data-testid="metric-p95">{formatMs(metrics.latency_ms.p95)}</b></div>
            <div><span>p99</span><b data-testid="metric-p99">{formatMs(metrics.latency_ms.p99)}</b></div>
            <div className={metrics.errors ? 'bad' : ''}><span>errors</span><b data-testid="metric-errors">{metrics.errors}</b></div>
          </div>
          <table className="grid traffic" data-testid="traffic">
            <thead><tr><th>version</th><th>requests</th><th>errors</th><th>per second</th><th>loaded</th></tr></thead>
            <tbody>{metrics.versions.filter((row) => row.model === service.model).map((row) => (
              <tr key={row.version} data-testid={`traffic-${row.version}`}>
                <td className="mono">{row.version}</td><td>{row.requests}</td><td>{row.errors}</td>
                <td>{formatValue(metrics.rates[`${row.model}/${row.version}`] ?? null)}</td><td>{row.loaded ? 'yes' : 'no'}</td>
              </tr>
            ))}</tbody>
          </table>
        </>
      )}
      <h4>Test request {served ? <span className="muted">(signature of version {served.version})</span> : null}</h4>
      <div className="infer-form" data-testid="infer-form">
        {inputs.map((input) => {
          const kind = inputKind(input.dtype);
          return (
            <label key={input.name}>
              <span className="mono">{input.name}</span> <span className="muted">{input.dtype}</span>
              {kind === 'bool'
                ? <input type="checkbox" checked={values[input.name] === 'true'} data-testid={`field-${input.name}`}
                    onChange={(event) => setValues({ ...values, [input.name]: String(event.target.checked) })} />
                : <input type={kind === 'string' ? 'text' : 'number'} step="any" value={values[input.name] ?? ''} data-testid={`field-${input.name}`}
                    onChange={(event) => setValues({ ...values, [input.name]: event.target.value })} />}
            </label>
          );
        })}
      </div>
      <button className="primary" onClick={send} disabled={service.state !== 'ready'} data-testid="infer-send">Send</button>
      {answer && (
        <pre className="infer-answer" data-testid="infer-answer">{`version ${answer.version} answered ${answer.status} in ${formatMs(answer.latency_ms)}\n`}
          {outputLines(answer.response)}</pre>
      )}
      <details>
        <summary>Service YAML <span className="mono muted">{service.spec_path}</span> — run it by hand with <code>tidal deploy {service.spec_path}</code></summary>
        <pre className="code" data-testid="service-yaml">{service.spec_yaml}</pre>
      </details>
      {service.log_tail && <pre className="log">{service.log_tail}</pre>}
    </div>
  );
}

export function ModelsPage({ notify, onOpenRun, refreshSeconds = 1.5 }: Props) {
  const [models, setModels] = useState<ModelSummary[] | null>(null);
  const [outputs, setOutputs] = useState<ModelOutput[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState<ModelDetail | null>(null);
  const [services, setServices] = useState<Service[]>([]);
  const [chosen, setChosen] = useState<string | null>(null);
  const [metrics, setMetrics] = useState<ServiceMetrics | null>(null);
  const [serviceModel, setServiceModel] = useState<ModelDetail | null>(null);
  const [changed, setChanged] = useState(0);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const timer = window.setInterval(() => setTick((count) => count + 1), refreshSeconds * 1000);
    return () => window.clearInterval(timer);
  }, [refreshSeconds]);
  useEffect(() => {
    modelsApi.models().then((found) => { setModels(found); if (!selected && found.length) setSelected(found[0].name); }).catch(() => undefined);
    modelsApi.outputs().then(setOutputs).catch(() => undefined);
  }, [changed]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (!selected) { setDetail(null); return; }
    let live = true;
    modelsApi.model(selected).then((found) => live && setDetail(found)).catch(failed(notify));
    return () => { live = false; };
  }, [selected, changed, notify]);
  useEffect(() => {
    let live = true;
    modelsApi.services().then((found) => live && setServices(found)).catch(() => undefined);
    return () => { live = false; };
  }, [tick, changed]);
  const service = services.find((item) => item.name === chosen) ?? null;
  useEffect(() => { setMetrics(null); }, [chosen]);
  useEffect(() => {
    if (!service || service.state !== 'ready') { if (!service) setMetrics(null); return; }
    let live = true;
    modelsApi.metrics(service.name).then((found) => live && setMetrics(found)).catch(() => undefined);
    return () => { live = false; };
  }, [tick, service?.name, service?.state]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (!service) { setServiceModel(null); return; }
    modelsApi.model(service.model).then(setServiceModel).catch(() => setServiceModel(null));
  }, [service?.name, service?.served_versions.join(','), changed]); // eslint-disable-line react-hooks/exhaustive-deps

  const stop = useCallback(() => {
    if (!chosen) return;
    modelsApi.stop(chosen).then((found) => { notify(`Stopped ${found.name}`); setChanged((count) => count + 1); }).catch(failed(notify));
  }, [chosen, notify]);

  return (
    <div className="models-page" data-testid="models-page">
      <aside className="models-list">
        <div className="output-bar"><strong>Registered models</strong><span className="spacer" /></div>
        <ul className="study-rows">
          {(models ?? []).map((model) => (
            <li key={model.name} className={model.name === selected ? 'selected' : ''} onClick={() => setSelected(model.name)} data-testid={`model-row-${model.name}`}>
              <div><b>{model.name}</b> <span className="muted">v{model.latest_version ?? '—'}</span></div>
              <div className="muted">{Object.entries(model.aliases).map(([alias, version]) => `${alias}→${version}`).join(', ') || 'no aliases'}</div>
            </li>
          ))}
        </ul>
        {models !== null && models.length === 0 && <p className="muted">No registered models yet.</p>}
        <RegisterBox outputs={outputs} notify={notify} onRegistered={(name) => { setSelected(name); setChanged((count) => count + 1); }} />
      </aside>
      <section className="models-main">
        {detail ? <ModelView detail={detail} onOpenRun={onOpenRun} notify={notify} onChanged={() => setChanged((count) => count + 1)}
          onDeployed={(started) => { setChosen(started.name); setChanged((count) => count + 1); }} />
          : <p className="muted">Select a model to see its versions, or register one from a run.</p>}
      </section>
      <aside className="services-column">
        <div className="output-bar"><strong>Services</strong><span className="spacer" /></div>
        <ul className="study-rows">
          {services.map((item) => (
            <li key={item.name} className={item.name === chosen ? 'selected' : ''} onClick={() => setChosen(item.name)} data-testid={`service-row-${item.name}`}>
              <div><b>{item.name}</b> <span className={`pill service-${item.state.replace(' ', '-')}`} data-testid={`service-state-${item.name}`}>{item.state}</span></div>
              <div className="muted">{item.model} · {servedWhat(item.source)} · port {item.port}</div>
            </li>
          ))}
        </ul>
        {services.length === 0 && <p className="muted">No services yet: deploy a model.</p>}
        {service && <ServiceView key={service.name} service={service} metrics={metrics} model={serviceModel} onStop={stop} notify={notify} />}
      </aside>
    </div>
  );
}
