// Tidal's notebook widget (anywidget ESM; hand-written, no build step, nothing fetched at run time).
// Draws a view sent by Python: a title and sections (kv, table, chart, graph, params). Every string
// goes through textContent or setAttribute, never innerHTML: names and values come from data.

const SVG = "http://www.w3.org/2000/svg";
const STATUS_COLOURS = {
  succeeded: "#d3f2dc", cached: "#dbe8fb", running: "#fff2c2", failed: "#f9d2d2",
  skipped: "#eeeeee", cancelled: "#eeeeee", queued: "#f5f5f5", "": "#ffffff",
};
const CSS = `
.tidal-widget{font-family:system-ui,sans-serif;font-size:13px;color:#222;max-width:100%;overflow-x:auto}
.tidal-widget h3{font-size:14px;margin:6px 0}.tidal-widget h4{font-size:13px;margin:8px 0 4px}
.tidal-widget table{border-collapse:collapse;margin:2px 0 6px}
.tidal-widget td,.tidal-widget th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
.tidal-widget th{background:#f6f6f6}.tidal-widget .tidal-note{color:#777}
.tidal-widget input{font:inherit;width:10em}.tidal-widget .tidal-error{color:#b00020}
.tidal-widget .tidal-ok{color:#1b6e2c}
`;

function h(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function s(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function show(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" && !Number.isInteger(value)) return Number(value.toPrecision(6)).toString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function title(section) {
  return section.title ? [h("h4", {}, section.title)] : [];
}

function kv(section) {
  if (!section.items.length) return [];
  const table = h("table");
  for (const [key, value] of section.items) {
    const row = table.appendChild(h("tr"));
    row.appendChild(h("th", {}, key));
    row.appendChild(h("td", {}, show(value)));
  }
  return [...title(section), table];
}

function table(section) {
  const table = h("table", { "data-section": "table" });
  const head = table.appendChild(h("thead")).appendChild(h("tr"));
  for (const column of section.columns) head.appendChild(h("th", {}, column));
  const body = table.appendChild(h("tbody"));
  for (const row of section.rows) {
    const line = body.appendChild(h("tr"));
    for (const value of row) line.appendChild(h("td", {}, show(value)));
  }
  const out = [...title(section), table];
  if (section.note) out.push(h("div", { class: "tidal-note" }, section.note));
  return out;
}

function short(text, limit = 26) {
  return text.length <= limit ? text : text.slice(0, limit - 1) + "…";
}

function graph(section) {
  const width = section.node_width, height = section.node_height;
  const svg = s("svg", { width: section.width, height: section.height, viewBox: `0 0 ${section.width} ${section.height}`,
                         "font-family": "system-ui,sans-serif", "data-section": "graph" });
  const where = Object.fromEntries(section.nodes.map((node) => [node.id, node]));
  for (const edge of section.edges) {
    const a = where[edge.from], b = where[edge.to];
    const x1 = a.x + width, y1 = a.y + height / 2, x2 = b.x, y2 = b.y + height / 2, mid = (x1 + x2) / 2;
    svg.appendChild(s("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, fill: "none",
                                stroke: "#888", "stroke-width": 1.5 }));
  }
  for (const node of section.nodes) {
    const group = svg.appendChild(s("g", { "data-node": node.id, "data-status": node.status || "" }));
    group.appendChild(s("rect", { x: node.x, y: node.y, width, height, rx: 6, stroke: "#555",
                                  fill: STATUS_COLOURS[node.status] || "#ffffff" }));
    group.appendChild(s("text", { x: node.x + 8, y: node.y + 18, "font-size": 13, "font-weight": 600 }, node.id));
    const detail = node.component + (node.status ? ` · ${node.status}` : "");
    group.appendChild(s("text", { x: node.x + 8, y: node.y + 34, "font-size": 10, fill: "#555" }, short(detail)));
    group.appendChild(s("title", {}, detail));
  }
  return [svg];
}

function params(section, context) {
  const table = h("table", { "data-section": "params" });
  const head = table.appendChild(h("thead")).appendChild(h("tr"));
  for (const column of ["node", "parameter", "value"]) head.appendChild(h("th", {}, column));
  const body = table.appendChild(h("tbody"));
  for (const node of section.nodes) {
    for (const param of node.params) {
      const row = body.appendChild(h("tr"));
      row.appendChild(h("td", {}, node.id));
      row.appendChild(h("td", { title: param.help || "" }, param.name));
      const cell = row.appendChild(h("td"));
      if (!context.editable) {
        cell.textContent = show(param.value) + (param.set ? "" : " (default)");
        continue;
      }
      const input = cell.appendChild(h("input", { name: `${node.id}.${param.name}`, "data-kind": param.kind }));
      if (param.kind === "boolean") {
        input.type = "checkbox";
        input.checked = Boolean(param.value);
      } else {
        input.value = param.kind === "json" || param.kind === "string" && typeof param.value !== "string"
          ? (param.value === null ? "" : JSON.stringify(param.value)) : show(param.value);
      }
      if (!param.set) input.placeholder = "default";
      input.addEventListener("change", () => context.edit(node.id, param.name, read(input, param.kind)));
    }
  }
  const status = h("div", { class: "tidal-edit-status", "aria-live": "polite" });
  context.statusLine = status;
  return [h("h4", {}, "Parameters"), table, status];
}

function read(input, kind) {
  if (kind === "boolean") return input.checked;
  const text = input.value.trim();
  if (kind === "integer" && /^-?\d+$/.test(text)) return parseInt(text, 10);
  if (kind === "number" && text !== "" && !Number.isNaN(Number(text))) return Number(text);
  if (kind === "json" || (kind !== "string" && text !== "")) {
    try { return JSON.parse(text); } catch (error) { return text; }
  }
  return text === "" && kind !== "string" ? null : text;
}

function scale(values, low, high) {
  let min = Math.min(...values), max = Math.max(...values);
  if (min === max) { min -= 1; max += 1; }
  const factor = (high - low) / (max - min);
  return [factor, low - min * factor];
}

const W = 380, H = 220, PAD = 52;
const axis = (value) => Number(value.toPrecision(3)).toString();

function chart(section) {
  const svg = s("svg", { width: W, height: H, "font-size": 10, "font-family": "system-ui,sans-serif", "data-section": "chart" });
  if (section.mark === "bar") {
    const bars = section.bars.slice(0, 40);
    const [f, o] = scale([...bars.map((bar) => Number(bar[1])), 0], PAD + 70, W - 10);
    const step = (H - 20) / Math.max(bars.length, 1);
    bars.forEach(([label, value], index) => {
      const y = 10 + index * step;
      const ends = [o, Number(value) * f + o].sort((a, b) => a - b);
      svg.appendChild(s("text", { x: PAD + 66, y: y + step * 0.7, "text-anchor": "end" }, short(String(label), 16)));
      const bar = svg.appendChild(s("rect", { x: ends[0], y: y + 1, width: Math.max(ends[1] - ends[0], 1),
                                              height: Math.max(step - 2, 1), fill: "#4c78a8" }));
      bar.appendChild(s("title", {}, `${label}: ${show(value)}`));
    });
  } else {
    const every = section.series.flatMap((series) => series.points);
    if (every.length) {
      const xs = every.map((p) => Number(p[0])), ys = every.map((p) => Number(p[1]));
      const [fx, ox] = scale(xs, PAD, W - 10), [fy, oy] = scale(ys, H - PAD, 10);
      svg.appendChild(s("line", { x1: PAD, y1: H - PAD, x2: W - 10, y2: H - PAD, stroke: "#999" }));
      svg.appendChild(s("line", { x1: PAD, y1: 10, x2: PAD, y2: H - PAD, stroke: "#999" }));
      svg.appendChild(s("text", { x: PAD, y: H - PAD + 12 }, axis(Math.min(...xs))));
      svg.appendChild(s("text", { x: W - 10, y: H - PAD + 12, "text-anchor": "end" }, axis(Math.max(...xs))));
      svg.appendChild(s("text", { x: PAD - 3, y: H - PAD, "text-anchor": "end" }, axis(Math.min(...ys))));
      svg.appendChild(s("text", { x: PAD - 3, y: 18, "text-anchor": "end" }, axis(Math.max(...ys))));
      const colours = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"];
      section.series.forEach((series, index) => {
        const colour = series.dashed ? "#999" : colours[index % colours.length];
        const coords = series.points.map(([x, y]) => [Number(x) * fx + ox, Number(y) * fy + oy]);
        if (series.mark === "point") {
          for (const [x, y] of coords) svg.appendChild(s("circle", { cx: x, cy: y, r: 2.5, fill: colour }));
        } else if (coords.length) {
          const line = s("polyline", { points: coords.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
                                       fill: "none", stroke: colour, "stroke-width": 1.5 });
          if (series.dashed) line.setAttribute("stroke-dasharray", "4 4");
          svg.appendChild(line);
        }
      });
    }
    svg.appendChild(s("text", { x: W / 2, y: H - 6, "text-anchor": "middle" }, section.x));
    svg.appendChild(s("text", { x: 10, y: H / 2, transform: `rotate(-90 10 ${H / 2})`, "text-anchor": "middle" }, section.y));
  }
  return [...title(section), svg];
}

const SECTIONS = { kv, table, graph, params, chart };

function render({ model, el }) {
  const root = el.appendChild(h("div", { class: "tidal-widget" }));
  root.appendChild(h("style", {}, CSS));
  const body = root.appendChild(h("div"));
  let seq = 0;
  const context = {
    editable: false,
    statusLine: null,
    edit(node, param, value) {
      seq += 1;
      model.set("edit", { node, param, value, seq });
      model.save_changes();
      if (context.statusLine) {
        context.statusLine.className = "tidal-edit-status tidal-note";
        context.statusLine.textContent = `setting ${node}.${param}…`;
      }
    },
  };
  const draw = () => {
    const view = model.get("view") || { sections: [] };
    context.editable = Boolean(model.get("editable"));
    const kept = context.statusLine ? [context.statusLine.className, context.statusLine.textContent] : null;
    body.replaceChildren();
    root.dataset.tidalKind = view.kind || "";
    body.appendChild(h("h3", {}, view.title || ""));
    for (const section of view.sections || []) {
      const draw = SECTIONS[section.type];
      if (draw) for (const node of draw(section, context)) body.appendChild(node);
    }
    if (kept && context.statusLine) [context.statusLine.className, context.statusLine.textContent] = kept;
  };
  const answered = () => {
    const result = model.get("edit_result") || {};
    if (!context.statusLine || result.seq === undefined) return;
    context.statusLine.className = "tidal-edit-status " + (result.ok ? "tidal-ok" : "tidal-error");
    context.statusLine.textContent = result.message || "";
  };
  model.on("change:view", draw);
  model.on("change:edit_result", answered);
  draw();
  return () => {
    model.off("change:view", draw);
    model.off("change:edit_result", answered);
  };
}

export default { render };
