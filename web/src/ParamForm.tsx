// A form generated from a component's parameter JSON Schema (ComponentSpec.params_schema()).
import { useEffect, useState } from 'react';
import type { Column, Issue, JsonSchema } from './api';

interface Props {
  schema: JsonSchema;
  values: Record<string, unknown>;
  /** the known columns of the table input a parameter refers to ('*': the first table input) */
  columnsOf: (target: string) => Column[] | null;
  issues: Issue[];
  onChange: (name: string, value: unknown | undefined) => void;
}

function baseOf(schema: JsonSchema): { base: JsonSchema; nullable: boolean } {
  if (schema.anyOf) {
    const members = schema.anyOf.filter((member) => member.type !== 'null');
    if (members.length === 1) return { base: { ...schema, ...members[0], anyOf: undefined }, nullable: true };
  }
  return { base: schema, nullable: false };
}

/** The problem with ``value`` for this field, checked in the browser at once (the server checks again). */
export function localProblem(schema: JsonSchema, value: unknown, required: boolean): string | null {
  const { base, nullable } = baseOf(schema);
  if (value === undefined) return required ? 'required' : null;
  if (value === null) return nullable ? null : 'a value is required';
  if (base.type === 'number' || base.type === 'integer') {
    if (typeof value !== 'number' || Number.isNaN(value)) return `must be a ${base.type === 'integer' ? 'whole number' : 'number'}`;
    if (base.type === 'integer' && !Number.isInteger(value)) return 'must be a whole number';
    if (base.minimum !== undefined && value < base.minimum) return `must be ≥ ${base.minimum}`;
    if (base.maximum !== undefined && value > base.maximum) return `must be ≤ ${base.maximum}`;
    if (base.exclusiveMinimum !== undefined && value <= base.exclusiveMinimum) return `must be > ${base.exclusiveMinimum}`;
    if (base.exclusiveMaximum !== undefined && value >= base.exclusiveMaximum) return `must be < ${base.exclusiveMaximum}`;
  }
  if (base.enum && !base.enum.includes(value)) return `must be one of ${base.enum.join(', ')}`;
  if (base.type === 'string' && typeof value !== 'string') return 'must be text';
  if (base.type === 'array' && !Array.isArray(value)) return 'must be a list';
  return null;
}

function NumberField({ value, onChange, id, placeholder }: { value: unknown; onChange: (v: unknown) => void; id: string; placeholder: string }) {
  const [text, setText] = useState(value === undefined || value === null ? '' : String(value));
  useEffect(() => {  // follow changes from outside (undo, another run's pipeline)
    const shown = text.trim() === '' ? undefined : Number.isNaN(Number(text)) ? text : Number(text);
    if (shown !== value) setText(value === undefined || value === null ? '' : String(value));
  }, [value]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <input
      id={id} value={text} placeholder={placeholder} inputMode="decimal"
      onChange={(event) => {
        const raw = event.target.value;
        setText(raw);
        if (raw.trim() === '') onChange(undefined);
        else onChange(Number.isNaN(Number(raw)) ? raw : Number(raw));
      }}
    />
  );
}

export function ParamForm({ schema, values, columnsOf, issues, onChange }: Props) {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  return (
    <form className="param-form" onSubmit={(event) => event.preventDefault()}>
      {Object.entries(properties).map(([name, field]) => {
        const { base, nullable } = baseOf(field);
        const value = values[name];
        const local = localProblem(field, value, required.has(name));
        const remote = issues.filter((issue) => issue.param === name).map((issue) => issue.message);
        const problems = [...(local ? [local] : []), ...remote.filter((text) => text !== local)];
        const id = `param-${name}`;
        const defaultText = field.default === undefined ? '' : field.default === null ? '(none)' : JSON.stringify(field.default);
        const columnOf = field['x-column-of'];
        const columns = columnOf ? columnsOf(columnOf) : null;
        let input;
        if (base.type === 'boolean') {
          input = (
            <input id={id} type="checkbox" checked={value === undefined ? Boolean(field.default) : Boolean(value)}
              onChange={(event) => onChange(name, event.target.checked === field.default ? undefined : event.target.checked)} />
          );
        } else if (base.enum) {
          input = (
            <select id={id} value={value === undefined ? '' : String(value)} onChange={(event) => onChange(name, event.target.value === '' ? undefined : base.enum!.find((item) => String(item) === event.target.value))}>
              <option value="">{`default (${defaultText})`}</option>
              {base.enum.map((item) => <option key={String(item)} value={String(item)}>{String(item)}</option>)}
            </select>
          );
        } else if (base.type === 'number' || base.type === 'integer') {
          input = <NumberField id={id} value={value} placeholder={defaultText} onChange={(v) => onChange(name, v)} />;
        } else if (base.type === 'array' && columnOf && columns && columns.length) {
          const chosen = Array.isArray(value) ? (value as string[]) : [];
          input = (
            <div className="column-checks" id={id}>
              {columns.map((column) => (
                <label key={column.name}>
                  <input type="checkbox" checked={chosen.includes(column.name)} onChange={(event) => {
                    const next = event.target.checked ? [...chosen, column.name] : chosen.filter((item) => item !== column.name);
                    onChange(name, next.length ? next : undefined);
                  }} />
                  {column.name}
                </label>
              ))}
            </div>
          );
        } else if (base.type === 'array') {
          input = (
            <input id={id} placeholder={nullable ? 'comma-separated; empty for default' : 'comma-separated'}
              value={Array.isArray(value) ? (value as unknown[]).join(', ') : value === undefined || value === null ? '' : String(value)}
              onChange={(event) => {
                const items = event.target.value.split(',').map((item) => item.trim()).filter(Boolean);
                const numeric = base.items?.type === 'number' || base.items?.type === 'integer';
                onChange(name, items.length ? items.map((item) => (numeric && !Number.isNaN(Number(item)) ? Number(item) : item)) : undefined);
              }} />
          );
        } else if (base.type === 'string' || columnOf) {
          const listId = columnOf ? `${id}-columns` : undefined;
          const long = field['x-widget'] === 'code' || field['x-widget'] === 'sql' || field['x-widget'] === 'textarea';
          input = long ? (
            <textarea id={id} value={typeof value === 'string' ? value : ''} placeholder={defaultText}
              onChange={(event) => onChange(name, event.target.value === '' ? undefined : event.target.value)} />
          ) : (
            <>
              <input id={id} list={listId} value={typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value)}
                placeholder={columnOf ? (columns?.length ? 'choose a column' : 'column name (run upstream to list them)') : defaultText}
                onChange={(event) => onChange(name, event.target.value === '' ? undefined : event.target.value)} />
              {listId && columns && (
                <datalist id={listId}>{columns.map((column) => <option key={column.name} value={column.name}>{column.type}</option>)}</datalist>
              )}
            </>
          );
        } else {
          input = (
            <input id={id} value={value === undefined ? '' : JSON.stringify(value)} placeholder={defaultText}
              onChange={(event) => {
                if (event.target.value === '') return onChange(name, undefined);
                try { onChange(name, JSON.parse(event.target.value)); } catch { onChange(name, event.target.value); }
              }} />
          );
        }
        return (
          <div key={name} className={`field ${problems.length ? 'invalid' : ''}`} data-testid={`field-${name}`}>
            <label htmlFor={id}>
              {field.title ?? name}{required.has(name) ? <span className="required">*</span> : null}
              {columnOf ? <span className="badge">column</span> : null}
            </label>
            {input}
            {field.description ? <div className="help">{field.description}</div> : null}
            {problems.map((text) => <div key={text} className="problem">{text}</div>)}
          </div>
        );
      })}
      {Object.keys(properties).length === 0 && <p className="muted">This component has no parameters.</p>}
    </form>
  );
}
