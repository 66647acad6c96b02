// The optimization report of a model.optimize node, as one page: the outcome and the pick's reason, the settings,
// the CPU it was measured on, both charts and every variant with its verdict (the same as report.html).
import type { ArtifactPreview } from './api';
import { cellColumns, formatCell, isNumeric, reportColumns, reportFigures, rowKind } from './optimizeReport';
import { VegaChart } from './VegaChart';

const text = (value: unknown) => (value === null || value === undefined ? '' : String(value));

export function OptimizeReportPage({ view, title }: { view: ArtifactPreview; title: string }) {
  const metrics = view.metrics;
  const rows = view.tables.variants ?? [];
  const { cells, reasonLine } = cellColumns(reportColumns(view.tables));
  const skipped = view.tables.skipped ?? [];
  const kept = metrics.kept_original === true;
  return (
    <div className="output optimize-report" data-testid="optimize-report">
      <div className="output-bar"><strong>{title}</strong> · optimization report · {rows.length} variants</div>
      <div className={`report-outcome ${kept ? 'kept' : 'picked'}`} data-testid="report-outcome">
        <strong data-testid="report-headline">{text(metrics.outcome)}</strong>
        <span data-testid="report-reason">{text(metrics.reason)}</span>
      </div>
      <p className="muted" data-testid="report-settings">{text(metrics.settings)}</p>
      <p data-testid="report-cpu">
        <b>CPU:</b> {text(metrics.cpu)} · <b>flags:</b> <span className="mono">{text(metrics.cpu_flags)}</span>
        {' '}· <b>without:</b> <span className="mono">{text(metrics.cpu_flags_absent)}</span>
        {' '}· <b>VNNI:</b> {metrics.vnni ? 'yes' : 'no (INT8 uses reduce_range)'} · load average {text(metrics.load_average)}
      </p>
      <div className="report-charts">
        {reportFigures(view.figures).map(([name, spec]) => (
          <div key={name} className="report-chart"><VegaChart spec={spec} name={name} /></div>
        ))}
      </div>
      <h4>Variants</h4>
      <div className="report-table-scroll">
        <table className="grid report-variants" data-testid="report-variants">
          <thead><tr>{cells.map((column) => <th key={column.name} data-column={column.name}>{column.title}</th>)}</tr></thead>
          {rows.map((row) => {
            const kind = rowKind(row, metrics.winner);
            const name = text(row.variant);
            return (
              <tbody key={name} className={`variant-${kind}`} data-testid={`variant-${name}`} data-kind={kind}>
                <tr className="variant-cells">
                  {cells.map((column) => (
                    column.name === 'verdict'
                      ? <td key={column.name}><span className={`pill verdict-${text(row.verdict).replace(/ /g, '-')}`}>{text(row.verdict)}</span></td>
                      : <td key={column.name} className={isNumeric(column.name, rows) ? 'num' : undefined}>{formatCell(column.name, row[column.name])}</td>
                  ))}
                </tr>
                {reasonLine && <tr className="variant-reason"><td colSpan={cells.length} data-testid={`reason-${name}`}>{text(row.reason)}</td></tr>}
              </tbody>
            );
          })}
        </table>
      </div>
      <h4>Skipped</h4>
      {skipped.length ? (
        <ul className="report-skipped" data-testid="report-skipped">
          {skipped.map((item, index) => <li key={index}><b>{text(item.variant)}</b>: {text(item.reason)}</li>)}
        </ul>
      ) : <p className="muted">nothing</p>}
    </div>
  );
}
