// The component palette: grouped by category, searchable; drag an entry onto the canvas, click it for its docs.
import { useMemo, useState } from 'react';
import type { ComponentSummary } from './api';

interface Props {
  components: ComponentSummary[];
  onDrop: (spec: ComponentSummary, clientX: number, clientY: number) => void;
  onShowDocs: (spec: ComponentSummary) => void;
  /** what the entries are, for the search box ("components", "layer kinds") */
  noun?: string;
}

export function Palette({ components, onDrop, onShowDocs, noun = 'components' }: Props) {
  const [query, setQuery] = useState('');
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const [ghost, setGhost] = useState<{ spec: ComponentSummary; x: number; y: number } | null>(null);

  const groups = useMemo(() => {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const found = new Map<string, ComponentSummary[]>();
    for (const spec of components) {
      const text = `${spec.id} ${spec.title} ${spec.summary}`.toLowerCase();
      if (words.every((word) => text.includes(word))) {
        if (!found.has(spec.category)) found.set(spec.category, []);
        found.get(spec.category)!.push(spec);
      }
    }
    return [...found.entries()].sort(([, a], [, b]) => a[0].category_title.localeCompare(b[0].category_title));
  }, [components, query]);

  function startDrag(spec: ComponentSummary, event: React.PointerEvent) {
    if (event.button !== 0) return;
    event.preventDefault();
    const startX = event.clientX;
    const startY = event.clientY;
    let dragging = false;
    const move = (moveEvent: PointerEvent) => {
      if (!dragging && Math.hypot(moveEvent.clientX - startX, moveEvent.clientY - startY) > 4) dragging = true;
      if (dragging) setGhost({ spec, x: moveEvent.clientX, y: moveEvent.clientY });
    };
    const up = (upEvent: PointerEvent) => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      setGhost(null);
      if (dragging) onDrop(spec, upEvent.clientX, upEvent.clientY);
      else onShowDocs(spec);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  }

  return (
    <aside className="palette">
      <input className="search" placeholder={`Search ${components.length} ${noun}…`} value={query}
        onChange={(event) => setQuery(event.target.value)} data-testid="palette-search" />
      <div className="palette-groups">
        {groups.map(([category, specs]) => {
          const expanded = query !== '' || open[category];
          return (
            <div key={category} className="palette-group">
              <button className="group-head" onClick={() => setOpen({ ...open, [category]: !open[category] })}>
                <span className={`dot cat-${category}`} />{specs[0].category_title}<span className="count">{specs.length}</span>
                <span className="chevron">{expanded ? '▾' : '▸'}</span>
              </button>
              {expanded && specs.map((spec) => (
                <div key={spec.id} className="palette-item" title={`${spec.id}\n${spec.summary}`}
                  data-testid={`palette-${spec.id}`} onPointerDown={(event) => startDrag(spec, event)}>
                  <div className="item-title">{spec.title}
                    {spec.origin && spec.origin !== 'tidal' && (
                      <span className="plugin-mark" title={`from the plug-in ${spec.origin}`} data-testid={`plugin-${spec.id}`}>{spec.origin}</span>)}
                  </div>
                  <div className="item-id">{spec.id}</div>
                </div>
              ))}
            </div>
          );
        })}
        {groups.length === 0 && <p className="muted">Nothing matches “{query}”.</p>}
      </div>
      {ghost && (
        <div className="drag-ghost" style={{ left: ghost.x + 8, top: ghost.y + 8 }}>{ghost.spec.title}</div>
      )}
    </aside>
  );
}
