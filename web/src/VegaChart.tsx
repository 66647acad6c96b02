import { useEffect, useRef, useState } from 'react';

/** A Vega-Lite spec rendered with vega-embed (loaded on first use). */
export function VegaChart({ spec, name }: { spec: Record<string, unknown>; name: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let finalize: (() => void) | undefined;
    let cancelled = false;
    import('vega-embed').then(({ default: embed }) => {
      if (cancelled || !ref.current) return;
      embed(ref.current, spec as never, { actions: { export: true, source: false, compiled: false, editor: false }, renderer: 'svg' })
        .then((result) => { finalize = () => result.finalize(); })
        .catch((problem: Error) => setError(problem.message));
    });
    return () => { cancelled = true; finalize?.(); };
  }, [spec]);
  return (
    <div className="chart" data-testid={`chart-${name}`}>
      {error ? <div className="problem">cannot draw this chart: {error}</div> : <div ref={ref} />}
    </div>
  );
}
