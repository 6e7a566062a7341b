// Gancho console: the webhook editor page — events by name, "only when…" conditions and body rows (built by
// editor.js), the raw template as the advanced view, the live preview, saving once (an idempotency key per
// form shown, then the webhook's own page), and the advanced tools (dry runs). Given console.js's helpers.
"use strict";

window.GanchoWebhook = (function () {
  function editor(h) {
    const { data, t, tenant, tenantPath, api, status, clearErrors, showError, reveal, words, templateWords, $, $$ } = h;
    const form = $("#subscription-form");
    const existing = data.subscription;
    const catalog = data.catalog;
    const builders = window.GanchoEditor;
    const plugin = $("#plugin");
    const body = $("#tpl-body");
    const tplUrl = $("#tpl-url");
    const method = $("#tpl-method");
    const format = $("#tpl-format");
    const endpoint = $("#endpoint_url");
    const templateEditor = $("#template-editor");
    const configEditor = $("#config-editor");
    const previewEvent = $("#preview-event");
    const isTemplate = () => /^template(@\d+)?$/.test(plugin.value);
    const sendsBody = () => !["GET", "DELETE", "HEAD"].includes(method.value);
    // Chips go to the text field she was in last (a row's text, the URL template, the body…).
    let lastFocus = null;
    form.addEventListener("focusin", (event) => {
      if (event.target.matches('input[type=text], input[type=url], input:not([type]), textarea')) lastFocus = event.target;
    });

    function eventTypes() {
      const checked = $$('input[name="event_type"]:checked').map((el) => el.value);
      const others = $("#other_events").value.split(",").map((s) => s.trim()).filter(Boolean);
      return checked.concat(others);
    }
    const matches = (pattern, type) => pattern === "*" || (pattern.endsWith(".*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type);
    function chosenTypes() {
      const types = eventTypes();
      const chosen = catalog.types.filter((ty) => types.some((p) => matches(p, ty.type)));
      return chosen.length ? chosen : catalog.types;
    }
    const chosenSamples = () => data.samples.filter((s) => chosenTypes().some((ty) => ty.type === s.type));

    // The builders: conditions from the chosen events' fields, rows of name → variable or text.
    const conditions = builders.conditions($("#conditions"), {
      t, match: $("#filter-match"),
      fields: (types) => builders.fieldsOf(catalog, types, true),
      onChange: schedulePreview,
    });
    const rows = builders.bodyRows($("#rows"), { t, onChange: rowsChanged });
    $("#add-condition").addEventListener("click", () => conditions.add());
    $("#add-row").addEventListener("click", () => rows.add());
    $("#starter").addEventListener("click", () => {
      const first = chosenTypes()[0];
      rows.set((first.starter || []).map((s) => ({ name: s.name, variable: s.path })));
      rowsChanged();
    });

    // Rows write the template (the body, or a GET's URL query); the raw text writes the rows back when it
    // has their shape.
    const urlBase = () => (tplUrl.value.trim() || endpoint.value.trim()).split("?")[0];
    function rowsChanged() {
      const list = rows.read();
      if (sendsBody()) body.value = rows.write(format.value, list);
      else if (list.length) tplUrl.value = urlBase() + "?" + rows.write("form", list);
      else if (tplUrl.value.split("?")[0] === endpoint.value.trim()) tplUrl.value = "";
      schedulePreview();
    }
    function rawChanged() {
      let parsed = null;
      if (!sendsBody()) {
        const query = tplUrl.value.includes("?") ? tplUrl.value.slice(tplUrl.value.indexOf("?") + 1) : "";
        parsed = rows.parse("form", query);
      } else if (format.value !== "text") parsed = rows.parse(format.value, body.value);
      const usable = parsed !== null;
      $("#rows").hidden = !usable;
      $("#add-row").hidden = $("#starter").hidden = !usable;
      $("#rows-unavailable").hidden = usable;
      if (usable) rows.set(parsed);
      else $("#raw-template").open = true;
    }
    [body, tplUrl].forEach((input) => input.addEventListener("input", rawChanged));
    // A GET's URL (the address and the rows' query) follows the address.
    let previousEndpoint = "";
    endpoint.addEventListener("focus", () => { previousEndpoint = endpoint.value.trim(); });
    endpoint.addEventListener("input", () => {
      const now = endpoint.value.trim();
      if (tplUrl.value.startsWith(previousEndpoint + "?")) tplUrl.value = now + tplUrl.value.slice(previousEndpoint.length);
      previousEndpoint = now;
    });
    function methodChanged() {
      $("#format-box").hidden = !sendsBody();
      body.disabled = !sendsBody();
      rawChanged();
    }
    method.addEventListener("change", () => {
      // The rows move between the body and the URL's query.
      const list = rows.read();
      if (sendsBody()) { tplUrl.value = tplUrl.value.split("?")[0] === endpoint.value.trim() ? "" : tplUrl.value.split("?")[0]; }
      else body.value = "";
      rows.set(list);
      rowsChanged();
      methodChanged();
    });
    format.addEventListener("change", () => {
      if (format.value === "text") { rawChanged(); return; }
      // The rows, when they show the body, write it in the new format; a body of another shape stays.
      if (!$("#rows").hidden) body.value = rows.write(format.value, rows.read());
      rawChanged();
      schedulePreview();
    });

    if (existing) {
      const base = existing.plugin.replace(/@\d+$/, "");
      plugin.value = [...plugin.options].some((o) => o.value === existing.plugin) ? existing.plugin : base;
      endpoint.value = existing.endpoint_url;
      $("#sub-name").value = existing.name || "";
      const notify = existing.notify || {};
      if ($("#notify-email")) $("#notify-email").value = notify.email || "";
      $("#notify-webhook").value = notify.webhook_url || "";
      const config = existing.config || {};
      if (/^template$/.test(base)) {
        format.value = config.format || "json";
        method.value = (config.method || "POST").toUpperCase();
        tplUrl.value = config.url || "";
        body.value = config.template || "";
      } else {
        $("#config-json").value = JSON.stringify(config, null, 2);
      }
      // A signing secret shown once, carried from the create's answer to this page.
      const secret = sessionStorage.getItem("gancho-secret-" + existing.id);
      if (secret) {
        sessionStorage.removeItem("gancho-secret-" + existing.id);
        reveal($("#secret-box"), t("secret_once"), secret);
        status($("#save-status"), t("created"));
      }
    } else if ([...plugin.options].some((o) => o.value === "template")) {
      plugin.value = "template";
    }

    // The delivery order: a suggested key, or a path of one's own; the hint follows the chosen events.
    const orderingSelect = $("#ordering_key");
    const orderingOther = $("#ordering_key_other");
    function orderingKey() {
      if (!orderingSelect) return "";
      return orderingSelect.value === "other" ? orderingOther.value.trim() : orderingSelect.value;
    }
    function orderingHint() {
      const types = eventTypes();
      const calls = types.some((type) => type === "*" || type.startsWith("call."));
      const chats = types.some((type) => type === "*" || type.startsWith("chat."));
      $("#ordering-hint").textContent = [calls ? t("suggest_call") : "", chats ? t("suggest_chat") : ""]
        .filter(Boolean).join(" · ");
    }
    if (orderingSelect) {
      orderingSelect.addEventListener("change", () => { orderingOther.hidden = orderingSelect.value !== "other"; });
      form.addEventListener("change", orderingHint);
      orderingHint();
    }

    function config() {
      if (!isTemplate()) {
        try { return JSON.parse($("#config-json").value || "{}"); }
        catch (error) { return { __invalid: error.message }; }
      }
      const c = { format: format.value, method: method.value };
      if (sendsBody()) c.template = body.value;
      if (tplUrl.value.trim()) c.url = tplUrl.value.trim();
      return c;
    }

    // The variables of the chosen events, by her names, each inserted where she was typing.
    function variables() { return builders.fieldsOf(catalog, chosenTypes(), true); }
    function renderVariables() {
      const box = $("#variables");
      box.textContent = "";
      variables().forEach((v) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "variable";
        button.dataset.variable = v.path;
        button.title = "{{" + v.path + "}}";
        button.append(v.label + " ");
        const code = document.createElement("code");
        code.textContent = v.path;
        button.append(code);
        // Keeps the focus (and the caret) in the field she was typing in.
        button.addEventListener("mousedown", (event) => event.preventDefault());
        button.addEventListener("click", () => insert("{{" + v.path + "}}"));
        box.append(button);
      });
      rows.setVariables(variables().filter((v) => !v.path.startsWith("event.") || v.path === "event.timestamp" || v.path === "event.type"));
      conditions.setFields(chosenTypes());
    }
    function insert(text) {
      const target = lastFocus && form.contains(lastFocus) ? lastFocus : (sendsBody() ? body : tplUrl);
      if (target === body || target === tplUrl) $("#raw-template").open = true;
      const start = target.selectionStart ?? target.value.length;
      const end = target.selectionEnd ?? target.value.length;
      target.value = target.value.slice(0, start) + text + target.value.slice(end);
      target.focus();
      target.selectionStart = target.selectionEnd = start + text.length;
      target.dispatchEvent(new Event("input", { bubbles: true }));
    }

    function renderEventChoices() {
      const previous = previewEvent.value;
      previewEvent.textContent = "";
      const group = (label, items) => {
        const g = document.createElement("optgroup");
        g.label = label;
        items.forEach(([value, text]) => {
          const o = document.createElement("option");
          o.value = value;
          o.textContent = text;
          g.append(o);
        });
        if (items.length) previewEvent.append(g);
      };
      const typeName = (type) => (catalog.types.find((ty) => ty.type === type) || { name: type }).name;
      group(t("samples"), chosenSamples().map((s) => ["sample:" + s.event.id, typeName(s.type) + " · " + sampleNote(s.event)]));
      group(t("recent"), (data.recent || []).map((id) => ["event:" + id, id]));
      if ([...previewEvent.options].some((o) => o.value === previous)) previewEvent.value = previous;
    }
    // What tells two samples of a type apart (an answered and a missed call).
    const sampleNote = (event) => {
      const status = event.data && event.data.call && event.data.call.status;
      const field = catalog.types.flatMap((ty) => ty.fields).find((f) => f.path === "call.status");
      const label = field && field.values.find((v) => v.value === status);
      return label ? label.label : event.id;
    };

    function showMode() {
      templateEditor.hidden = !isTemplate();
      configEditor.hidden = isTemplate();
      $("#format-box").hidden = !isTemplate() || !sendsBody();
    }

    // The live preview: the plugin-run operation on the chosen event, a moment after the last keystroke.
    let timer = null;
    let sequence = 0;
    function schedulePreview() {
      clearTimeout(timer);
      timer = setTimeout(preview, 250);
    }
    async function preview() {
      const mine = ++sequence;
      const output = $("#preview-output");
      const state = $("#preview-status");
      const templateError = $("#template-error");
      const c = config();
      templateError.textContent = "";
      body.classList.remove("invalid");
      $("#config-error").textContent = "";
      if (c.__invalid) {
        $("#config-error").textContent = t("invalid_json") + ": " + c.__invalid;
        return;
      }
      if (isTemplate() && sendsBody() && !c.template.trim()) {
        status(state, t("write_template"));
        output.textContent = "";
        return;
      }
      const request = { plugin: plugin.value, config: c };
      if (endpoint.value.trim()) request.endpoint_url = endpoint.value.trim();
      const choice = previewEvent.value || "";
      if (choice.startsWith("event:")) request.event_id = choice.slice(6);
      else {
        const sample = data.samples.find((s) => "sample:" + s.event.id === choice) || chosenSamples()[0] || data.samples[0];
        request.event = sample.event;
      }
      status(state, t("running"));
      const answer = await api("POST", tenantPath("/plugin-runs"), request);
      if (mine !== sequence) return;
      output.textContent = "";
      output.classList.remove("failed");
      if (!answer.ok) {
        status(state, "");
        output.classList.add("failed");
        output.textContent = words(answer);
        return;
      }
      const run = answer.body;
      if (run.outcome === "plugin_error") {
        status(state, t("preview_error"));
        const message = run.error.message;
        output.classList.add("failed");
        output.textContent = templateWords(message) || t("err.plugin");
        output.title = message;
        const target = isTemplate() ? templateError : $("#config-error");
        target.textContent = output.textContent;
        if (isTemplate()) body.classList.add("invalid");
        return;
      }
      if (run.outcome === "skipped") {
        status(state, t("preview_skipped"));
        return;
      }
      const filter = conditions.read();
      status(state, t("preview_ok") + (filter ? " " + t("preview_if_conditions") : ""));
      output.textContent = run.requests.map((r) => {
        const headers = r.headers.map(([k, v]) => k + ": " + v).join("\n");
        return r.method + " " + r.url + "\n" + headers + "\n\n" + (r.body ?? r.body_base64 ?? "");
      }).join("\n\n――――\n\n");
    }

    form.addEventListener("input", (event) => {
      if (event.target.name === "event_type" || event.target.id === "other_events") {
        renderVariables();
        renderEventChoices();
      }
      schedulePreview();
    });
    plugin.addEventListener("change", () => { showMode(); schedulePreview(); });
    previewEvent.addEventListener("change", schedulePreview);

    // Saving: once (the button waits for the answer, and the create carries this form's idempotency key,
    // so a double click or a repeated request makes one webhook), then to the webhook's own page.
    const save = $("#save");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (save.disabled) return;
      clearErrors(form);
      const types = eventTypes();
      if (!types.length) {
        $('[data-error-for="event_types"]').textContent = t("pick_event");
        return;
      }
      const c = config();
      if (c.__invalid) {
        $("#config-error").textContent = t("invalid_json") + ": " + c.__invalid;
        return;
      }
      // A body is needed to POST, PUT or PATCH: said before asking the service.
      if (isTemplate() && sendsBody() && !c.template.trim()) {
        $("#template-error").textContent = templateWords("\"template\" is missing") || t("write_template");
        return;
      }
      const request = {
        event_types: types,
        plugin: plugin.value,
        endpoint_url: endpoint.value.trim(),
        config: c,
        enabled: $("#enabled").checked,
        trace_context: $("#trace-context").checked,
      };
      const name = $("#sub-name").value.trim();
      if (name || (existing && existing.name)) request.name = name || null;
      const filter = conditions.read();
      if (filter) request.filter = filter;
      else if (existing && existing.filter) request.filter = null;
      const notify = {};
      if ($("#notify-email") && $("#notify-email").value.trim()) notify.email = $("#notify-email").value.trim();
      // Without an e-mail field (the service sends no e-mail), an address set before is kept.
      else if (!$("#notify-email") && existing && existing.notify && existing.notify.email) notify.email = existing.notify.email;
      if ($("#notify-webhook").value.trim()) notify.webhook_url = $("#notify-webhook").value.trim();
      if (Object.keys(notify).length) request.notify = notify;
      else if (existing && existing.notify) request.notify = null;
      if ($("#other_events").value.trim() && $("#custom-types").checked) request.custom_event_types = true;
      const key = orderingKey();
      if (key) request.ordering_key = key;
      else if (existing && existing.ordering) request.ordering_key = null;
      save.disabled = true;
      status($("#save-status"), t("saving"));
      const answer = existing
        ? await api("PATCH", tenantPath("/subscriptions/" + encodeURIComponent(existing.id)), request)
        : await api("POST", tenantPath("/subscriptions"), request, undefined, { "idempotency-key": data.idempotency_key });
      if (!answer.ok) {
        save.disabled = false;
        status($("#save-status"), "");
        showError(form, answer, $("#form-error"));
        return;
      }
      if (existing) {
        save.disabled = false;
        status($("#save-status"), t("saved"));
        return;
      }
      if (answer.body.secret) sessionStorage.setItem("gancho-secret-" + answer.body.id, answer.body.secret);
      location.href = "/console/t/" + encodeURIComponent(tenant) + "/subscriptions/" + encodeURIComponent(answer.body.id);
    });

    const rotate = $("#rotate");
    if (rotate) rotate.addEventListener("click", async () => {
      clearErrors(form);
      const answer = await api("PATCH", tenantPath("/subscriptions/" + encodeURIComponent(existing.id)), { rotate_secret: true });
      if (answer.ok) reveal($("#secret-box"), t("secret_once"), answer.body.secret);
      else showError(form, answer, $("#form-error"));
    });
    const remove = $("#delete");
    if (remove) remove.addEventListener("click", async () => {
      if (!confirm(t("confirm_delete"))) return;
      const answer = await api("DELETE", tenantPath("/subscriptions/" + encodeURIComponent(existing.id)));
      if (answer.ok) location.href = "/console/t/" + encodeURIComponent(tenant) + "/subscriptions";
      else showError(form, answer, $("#form-error"));
    });
    // A dry run of another version over the subscription's past events, followed until it ends.
    const dryForm = $("#dry-run-form");
    if (dryForm) dryForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const section = $("#dry-run");
      clearErrors(section);
      const progress = $("#dry-run-progress");
      const report = $("#dry-run-report");
      report.hidden = true;
      const request = { events: { last: Number($("#dr-last").value) } };
      if ($("#dr-version").value) request.candidate_version = Number($("#dr-version").value);
      const started = await api("POST", tenantPath("/subscriptions/" + encodeURIComponent(existing.id) + "/dry-runs"), request);
      if (!started.ok) { showError(section, started, $("#dry-run-error")); return; }
      progress.hidden = false;
      let run = started.body;
      while (run.status === "running") {
        progress.max = Math.max(run.events_total, 1);
        progress.value = run.events_done;
        status($("#dry-run-status"), t("dry_running") + " " + run.events_done + " / " + run.events_total);
        await new Promise((resolve) => setTimeout(resolve, 400));
        const next = await api("GET", tenantPath("/dry-runs/" + encodeURIComponent(run.id)));
        if (!next.ok) { showError(section, next, $("#dry-run-error")); return; }
        run = next.body;
      }
      progress.hidden = true;
      if (run.status !== "done") { $("#dry-run-error").textContent = run.error || run.status; return; }
      const s = run.summary;
      const counts = ["events", "identical", "changed", "newly_failing", "newly_succeeding", "still_failing"]
        .map((key) => s[key] + " " + t("dry_" + key)).join(", ");
      status($("#dry-run-status"), t("dry_done") + " " + run.current + " → " + run.candidate + ": " + counts);
      if (run.report && run.report.events.length) {
        report.hidden = false;
        report.textContent = JSON.stringify(run.report.events, null, 2);
      }
    });

    showMode();
    renderVariables();
    if (existing) conditions.load(existing.filter);
    methodChanged();
    renderEventChoices();
    if (existing) window.GanchoDeliveries.testEvents(h, existing.id);
    schedulePreview();
  }

  return { editor };
})();
