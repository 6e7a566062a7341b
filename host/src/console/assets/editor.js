// Gancho console: the webhook editor's two builders, for people who do not write JSON.
// - Conditions ("only when…"): rows of field — operator — value built from the chosen events' fields (a
//   menu of values for a field that has a fixed set), combined with all/any, read and written as the
//   subscription's `filter` ({"all": [{field, op, value}, …]}).
// - Body rows: name → variable or text, written as the template for her (a JSON object, a form body, or the
//   query of a GET's URL), and read back from the raw template when it has that shape.
// console.js wires them into the page (saving, the preview); this file only builds and translates.
"use strict";

window.GanchoEditor = (function () {
  const el = (tag, attrs, children) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    });
    (children || []).forEach((child) => node.append(child));
    return node;
  };
  const option = (value, text) => el("option", { value, text });

  // The fields the chosen types have (leaves a condition or a row can use), labelled; the envelope's first.
  function fieldsOf(catalog, types, withEnvelope) {
    const seen = new Map();
    if (withEnvelope) catalog.envelope.forEach((f) => seen.set(f.path, f));
    types.forEach((type) => type.fields.forEach((f) => {
      if (f.kind === "object" || f.kind === "array") return;
      if (!seen.has(f.path)) seen.set(f.path, f);
    }));
    return [...seen.values()];
  }

  // ---- Conditions ---------------------------------------------------------------------------------
  const OPS = {
    enum: ["equals", "not_equals", "in", "not_in", "exists", "not_exists"],
    string: ["equals", "not_equals", "contains", "exists", "not_exists"],
    number: ["equals", "not_equals", "greater_than", "less_than", "exists", "not_exists"],
    boolean: ["equals", "exists", "not_exists"],
  };
  const kindOf = (field) => (field && field.values && field.values.length ? "enum" : (field && OPS[field.kind] ? field.kind : "string"));

  function conditions(box, opts) {
    const { t, fields, onChange } = opts;
    const match = opts.match;
    let available = [];

    function valueInput(field, op, value) {
      const kind = kindOf(field);
      if (op === "exists" || op === "not_exists") return el("span", { class: "no-value" });
      if (kind === "enum") {
        const select = el("select", { class: "cond-value", "aria-label": t("cond_value") });
        if (op === "in" || op === "not_in") select.multiple = true;
        field.values.forEach((v) => select.append(option(v.value, v.label)));
        const chosen = Array.isArray(value) ? value : value !== undefined ? [value] : [field.values[0].value];
        [...select.options].forEach((o) => { o.selected = chosen.includes(o.value); });
        return select;
      }
      if (kind === "boolean") {
        const select = el("select", { class: "cond-value", "aria-label": t("cond_value") });
        select.append(option("true", t("yes")), option("false", t("no")));
        if (value === false) select.value = "false";
        return select;
      }
      const input = el("input", { class: "cond-value", type: kind === "number" ? "number" : "text", "aria-label": t("cond_value") });
      if (value !== undefined && value !== null) input.value = Array.isArray(value) ? value.join(", ") : String(value);
      return input;
    }

    function addRow(condition) {
      const row = el("div", { class: "condition" });
      const fieldSelect = el("select", { class: "cond-field", "aria-label": t("cond_field") });
      available.forEach((f) => fieldSelect.append(option(f.path, f.label)));
      // A field the chosen events no longer have stays listed (by its path) so that nothing is lost unseen.
      if (condition && !available.some((f) => f.path === condition.field)) fieldSelect.append(option(condition.field, condition.field));
      if (condition) fieldSelect.value = condition.field;
      const opSelect = el("select", { class: "cond-op", "aria-label": t("cond_op") });
      const remove = el("button", { type: "button", class: "link danger remove", text: "✕", title: t("remove"), "aria-label": t("remove") });
      let valueBox = el("span");
      const field = () => available.find((f) => f.path === fieldSelect.value);
      const fillOps = (op) => {
        opSelect.textContent = "";
        OPS[kindOf(field())].forEach((o) => opSelect.append(option(o, t("op_" + o))));
        if (op && [...opSelect.options].some((o) => o.value === op)) opSelect.value = op;
      };
      const fillValue = (value) => {
        const next = valueInput(field(), opSelect.value, value);
        valueBox.replaceWith(next);
        valueBox = next;
      };
      fillOps(condition && condition.op);
      fillValue(condition && condition.value);
      fieldSelect.addEventListener("change", () => { fillOps(); fillValue(); onChange(); });
      opSelect.addEventListener("change", () => { fillValue(); onChange(); });
      row.addEventListener("input", onChange);
      remove.addEventListener("click", () => { row.remove(); update(); onChange(); });
      row.append(fieldSelect, opSelect, valueBox, remove);
      row.read = () => {
        const f = field();
        const c = { field: fieldSelect.value, op: opSelect.value };
        if (c.op === "exists" || c.op === "not_exists") return c;
        const input = row.querySelector(".cond-value");
        const kind = kindOf(f);
        if (input.multiple) c.value = [...input.selectedOptions].map((o) => o.value);
        else if (kind === "boolean") c.value = input.value === "true";
        else if (kind === "number") c.value = Number(input.value);
        else if ((c.op === "in" || c.op === "not_in")) c.value = input.value.split(",").map((s) => s.trim()).filter(Boolean);
        else c.value = input.value;
        return c;
      };
      box.append(row);
      update();
    }
    function update() { match.parentElement.hidden = box.children.length < 2; }

    return {
      add: () => { addRow(); onChange(); },
      setFields(types) {
        available = fields(types);
        [...box.children].forEach((row) => {
          const current = row.read();
          const select = row.querySelector(".cond-field");
          const known = available.some((f) => f.path === current.field);
          select.textContent = "";
          available.forEach((f) => select.append(option(f.path, f.label)));
          if (!known) select.append(option(current.field, current.field));
          select.value = current.field;
        });
      },
      load(filter) {
        if (!filter) return;
        const mode = filter.any ? "any" : "all";
        match.value = mode;
        (filter[mode] || []).forEach((c) => addRow(c));
      },
      // The subscription's filter, or null when there is no condition.
      read() {
        const all = [...box.children].map((row) => row.read());
        return all.length ? { [match.value]: all } : null;
      },
    };
  }

  // ---- Body rows ------------------------------------------------------------------------------------
  const TEXT = "";
  // A form value (or URL query value): encoded, but its variables left as they are.
  const encodeKeepingVariables = (text) => text.split(/(\{\{[^}]*\}\})/).map((part, i) => (i % 2 ? part : encodeURIComponent(part))).join("");
  const variableOf = (text) => { const m = /^\{\{\s*([^{}\s]+)\s*\}\}$/.exec(text); return m ? m[1] : null; };

  // JSON template → [{name, variable|text}] when it is one flat object, else null.
  function parseJson(template) {
    let out = "";
    let inString = false;
    for (let i = 0; i < template.length; i++) {
      const c = template[i];
      if (inString) {
        out += c;
        if (c === "\\") { out += template[++i] || ""; } else if (c === '"') inString = false;
      } else if (c === '"') { inString = true; out += c; }
      else if (template.startsWith("{{", i)) {
        const end = template.indexOf("}}", i);
        if (end < 0) return null;
        out += JSON.stringify("\u0001" + template.slice(i + 2, end).trim());
        i = end + 1;
      } else out += c;
    }
    let parsed;
    try { parsed = JSON.parse(out); } catch (_) { return null; }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    const rows = [];
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value !== "string") return null;
      const bare = value.startsWith("\u0001") ? value.slice(1) : null;
      const variable = bare || variableOf(value);
      rows.push(variable ? { name, variable } : { name, text: value });
    }
    return rows;
  }
  function parseForm(query) {
    if (!query.trim()) return [];
    const rows = [];
    for (const pair of query.split("&")) {
      const at = pair.indexOf("=");
      if (at <= 0) return null;
      let name, value;
      try { name = decodeURIComponent(pair.slice(0, at).replace(/\+/g, " ")); value = decodeURIComponent(pair.slice(at + 1).replace(/\+/g, " ")); }
      catch (_) { return null; }
      const variable = variableOf(value);
      rows.push(variable ? { name, variable } : { name, text: value });
    }
    return rows;
  }
  function writeJson(rows, kinds) {
    // No rows, no body: the service then says a body needs at least one.
    if (!rows.length) return "";
    const lines = rows.map((r) => {
      const value = r.variable
        ? (kinds[r.variable] === "number" || kinds[r.variable] === "boolean" ? "{{" + r.variable + "}}" : '"{{' + r.variable + '}}"')
        : JSON.stringify(r.text);
      return "  " + JSON.stringify(r.name) + ": " + value;
    });
    return "{\n" + lines.join(",\n") + "\n}";
  }
  const writeForm = (rows) => rows.map((r) => encodeURIComponent(r.name) + "=" + (r.variable ? "{{" + r.variable + "}}" : encodeKeepingVariables(r.text))).join("&");

  function bodyRows(box, opts) {
    const { t, onChange } = opts;
    let variables = [];
    let kinds = {};

    function addRow(row) {
      const line = el("div", { class: "body-row" });
      const name = el("input", { type: "text", class: "row-name", placeholder: t("row_name"), "aria-label": t("row_name"), spellcheck: "false" });
      name.value = (row && row.name) || "";
      const source = el("select", { class: "row-source", "aria-label": t("row_value") });
      const fill = () => {
        const current = source.value;
        source.textContent = "";
        source.append(option(TEXT, t("row_text")));
        variables.forEach((v) => source.append(option(v.path, v.label)));
        if (current && !variables.some((v) => v.path === current)) source.append(option(current, current));
        source.value = current;
      };
      const text = el("input", { type: "text", class: "row-text", placeholder: t("row_text_placeholder"), "aria-label": t("row_text") });
      const remove = el("button", { type: "button", class: "link danger remove", text: "✕", title: t("remove"), "aria-label": t("remove") });
      fill();
      if (row && row.variable) {
        if (![...source.options].some((o) => o.value === row.variable)) source.append(option(row.variable, row.variable));
        source.value = row.variable;
      } else if (row) text.value = row.text || "";
      const showText = () => { text.hidden = source.value !== TEXT; };
      showText();
      source.addEventListener("change", () => { showText(); onChange(); });
      name.addEventListener("input", onChange);
      text.addEventListener("input", onChange);
      remove.addEventListener("click", () => { line.remove(); onChange(); });
      line.refill = fill;
      line.read = () => (source.value === TEXT ? { name: name.value.trim(), text: text.value } : { name: name.value.trim(), variable: source.value });
      line.append(name, el("span", { class: "arrow", text: "→" }), source, text, remove);
      box.append(line);
      return line;
    }

    return {
      add(row) { const line = addRow(row); onChange(); line.querySelector(".row-name").focus(); },
      setVariables(list) {
        variables = list;
        kinds = Object.fromEntries(list.map((v) => [v.path, v.kind]));
        [...box.children].forEach((line) => line.refill());
      },
      set(rows) { box.textContent = ""; rows.forEach((row) => addRow(row)); },
      read() { return [...box.children].map((line) => line.read()).filter((r) => r.name); },
      // The template text for these rows in `format` (json or form).
      write(format, rows) { return format === "json" ? writeJson(rows, kinds) : writeForm(rows); },
      // The rows of a template, or null when the text has another shape.
      parse(format, text) { return format === "json" ? (text.trim() ? parseJson(text) : []) : parseForm(text); },
    };
  }

  return { conditions, bodyRows, fieldsOf, encodeKeepingVariables };
})();
