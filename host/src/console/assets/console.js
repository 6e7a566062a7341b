// Gancho console: the small script behind the server-rendered pages. It changes things only through the
// JSON API (/v1/…), with the session cookie and its CSRF token, and shows every API error in words next to
// the field or button that caused it.
"use strict";

(function () {
  const data = JSON.parse((document.getElementById("page-data") || {}).textContent || "{}");
  const texts = data.texts || {};
  const csrf = document.body.dataset.csrf;
  const tenant = data.tenant;
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const t = (key) => texts["js." + key] || key;
  const tenantPath = (rest) => "/v1/tenants/" + encodeURIComponent(tenant) + rest;

  // One API call: resolves to {ok, status, body}; a network failure is an error in words too.
  async function api(method, path, body, contentType, extraHeaders) {
    const headers = Object.assign({ "x-gancho-csrf": csrf }, extraHeaders || {});
    let payload = body;
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    } else if (contentType) {
      headers["content-type"] = contentType;
    }
    try {
      const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
      const text = await response.text();
      let parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch (_) { parsed = { error: { message: text } }; }
      return { ok: response.ok, status: response.status, body: parsed };
    } catch (error) {
      return { ok: false, status: 0, body: { error: { code: "network", message: t("network") } } };
    }
  }

  // Clears a form's errors, then puts the API's error next to its field (or in the form's error line).
  function clearErrors(root) {
    $$(".field-error, .form-error", root).forEach((el) => { el.textContent = ""; });
    $$(".invalid", root).forEach((el) => el.classList.remove("invalid"));
  }
  // An API error in the visitor's words: by its code, else by the field it names, else a general
  // sentence; the service's own (English) message stays in the element's tooltip for integrators.
  function templateWords(message) {
    const known = (data.template_errors || []).find(([needle]) => message.includes(needle));
    if (!known) return null;
    const variable = /\{\{[^}]*\}\}/.exec(message);
    return known[1].replace("{var}", variable ? variable[0] : "");
  }
  function words(answer) {
    const error = (answer.body && answer.body.error) || {};
    const field = error.field ? String(error.field) : "";
    const top = field.split(/[.\[]/)[0];
    if (top === "config") {
      const template = templateWords(error.message || "");
      if (template) return template;
    }
    return texts["js.err." + error.code] || texts["js.field." + field] || texts["js.field." + top]
      || (answer.status === 0 ? t("network") : t("err.other") + (answer.status ? " (HTTP " + answer.status + ")" : ""));
  }
  function showError(root, answer, fallback) {
    const error = (answer.body && answer.body.error) || {};
    const message = words(answer);
    const field = error.field ? String(error.field).split(/[.\[]/)[0] : null;
    const target = field && $('[data-error-for="' + field + '"]', root);
    const shown = target || fallback || $(".form-error", root);
    shown.textContent = message;
    shown.title = error.message || "";
    if (target) {
      const input = target.previousElementSibling;
      if (input && input.matches("input, select, textarea")) input.classList.add("invalid");
    }
  }
  // Every moment in the visitor's zone: <time datetime="RFC 3339"> as her browser says the date.
  const locale = navigator.language && navigator.language.startsWith(document.documentElement.lang) ? navigator.language : document.documentElement.lang;
  const dateFormat = new Intl.DateTimeFormat(locale, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  function localTimes() {
    $$("time[datetime]").forEach((el) => {
      const at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at)) { el.title = el.getAttribute("datetime"); el.textContent = dateFormat.format(at); }
    });
  }
  function status(el, text) { if (el) el.textContent = text || ""; }
  function reveal(box, label, secret) {
    box.hidden = false;
    box.textContent = "";
    const p = document.createElement("p");
    p.textContent = label;
    const code = document.createElement("code");
    code.className = "once";
    code.textContent = secret;
    box.append(p, code);
  }
  // A datetime-local value (her wall clock) as the instant it means.
  const localToRfc3339 = (value) => new Date(value).toISOString();

  // ---- The webhook editor -----------------------------------------------------------------------------
  function subscriptionEditor() {
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
      const list = rows.read();
      body.value = rows.write(format.value, list);
      rawChanged();
      schedulePreview();
    });

    if (existing) {
      const base = existing.plugin.replace(/@\d+$/, "");
      plugin.value = [...plugin.options].some((o) => o.value === existing.plugin) ? existing.plugin : base;
      endpoint.value = existing.endpoint_url;
      $("#sub-name").value = existing.name || "";
      const notify = existing.notify || {};
      $("#notify-email").value = notify.email || "";
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
      const request = {
        event_types: types,
        plugin: plugin.value,
        endpoint_url: endpoint.value.trim(),
        config: c,
        enabled: $("#enabled").checked,
      };
      const name = $("#sub-name").value.trim();
      if (name || (existing && existing.name)) request.name = name || null;
      const filter = conditions.read();
      if (filter) request.filter = filter;
      else if (existing && existing.filter) request.filter = null;
      const notify = {};
      if ($("#notify-email").value.trim()) notify.email = $("#notify-email").value.trim();
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
    if (existing) testEvents(existing.id);
    schedulePreview();
  }

  // ---- Deliveries: retry or re-run one, replay a range, send a test event ---------------------------
  function deliveryPage() {
    const delivery = data.delivery;
    const path = (action) => tenantPath("/deliveries/" + encodeURIComponent(delivery.id) + "/" + action);
    const buttons = [$("#retry"), $("#rerun")];
    const question = $("#retry-question");
    let answerQuestion = null;
    // Asks in the page (not a browser dialog), with the choices the situation has.
    function ask(text, choices) {
      $("#retry-question-text").textContent = text;
      $("#answer-same").hidden = !choices.includes("same");
      $("#answer-current").hidden = !choices.includes("current");
      question.hidden = false;
      return new Promise((resolve) => { answerQuestion = resolve; });
    }
    [["#answer-same", "same"], ["#answer-current", "current"], ["#answer-cancel", null]].forEach(([id, choice]) =>
      $(id).addEventListener("click", () => { question.hidden = true; if (answerQuestion) answerQuestion(choice); }));

    async function send(action, body) {
      status($("#retry-error"), "");
      buttons.forEach((b) => { b.disabled = true; });
      const answer = await api("POST", path(action), body);
      buttons.forEach((b) => { b.disabled = false; });
      return answer;
    }
    async function done(answer) {
      if (!answer.ok) { showError(document, answer, $("#retry-error")); return; }
      if (answer.body && answer.body.rerun && answer.body.delivery_id) {
        status($("#retry-status"), t("rerun_started"));
        setTimeout(() => { location.href = "/console/t/" + encodeURIComponent(tenant) + "/deliveries/" + encodeURIComponent(answer.body.delivery_id); }, 1200);
        return;
      }
      status($("#retry-status"), t("retry_queued"));
      setTimeout(() => location.reload(), 1500);
    }
    async function rerun() { await done(await send("rerun")); }
    async function retry(force) {
      const answer = await send("retry", force ? { force: true } : undefined);
      const code = answer.body && answer.body.error && answer.body.error.code;
      if (answer.status === 409 && code === "already_delivered") {
        const choice = await ask(t("ask_delivered"), ["same"]);
        if (choice === "same") await retry(true);
        return;
      }
      await done(answer);
    }
    $("#retry").addEventListener("click", async () => {
      if (delivery.subscription_changed_since && delivery.status !== "plugin_error") {
        const choice = await ask(t("ask_changed"), ["same", "current"]);
        if (choice === "same") await retry(delivery.status === "succeeded");
        else if (choice === "current") await rerun();
        return;
      }
      if (delivery.status === "succeeded") {
        const choice = await ask(t("ask_delivered"), ["same"]);
        if (choice === "same") await retry(true);
        return;
      }
      await retry(false);
    });
    $("#rerun").addEventListener("click", async () => {
      if (delivery.status === "succeeded") {
        const choice = await ask(t("ask_delivered_rerun"), ["current"]);
        if (choice !== "current") return;
      }
      await rerun();
    });
  }
  function deliveriesPage() {
    // The filter's times are her wall clock: the page says where that is.
    const filter = $("#filter-form");
    if (filter) filter.addEventListener("submit", () => {
      $$("[data-tz-for]", filter).forEach((hidden) => {
        const value = $("#" + hidden.dataset.tzFor).value;
        hidden.value = value ? String(new Date(value).getTimezoneOffset()) : "";
        hidden.disabled = !value;
      });
    });
    testEvents(null);
    const form = $("#replay-form");
    if (!form) return;
    $("#r-zone").textContent = t("times_in") + " " + zone;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form.parentElement);
      if (!$("#r-from").value || !$("#r-to").value) { $("#replay-error").textContent = t("pick_range"); return; }
      const request = { from: localToRfc3339($("#r-from").value), to: localToRfc3339($("#r-to").value) };
      if ($("#r-rerun").checked) request.rerun = true;
      const answer = await api("POST", tenantPath("/subscriptions/" + encodeURIComponent($("#r-sub").value) + "/replay"), request);
      if (!answer.ok) showError(form.parentElement, answer, $("#replay-error"));
      else status($("#replay-status"), t("replayed") + " " + (answer.body.replayed ?? 0) + (answer.body.reran ? " · " + t("reran") + " " + answer.body.reran : ""));
    });
  }

  // "Send a test event": a sample of one of her event types, or a copy of a recent event, through one
  // webhook (`subscription`) or all that match; its deliveries are marked as tests.
  function testEvents(subscription) {
    const source = $("#test-source");
    if (!source || !data.catalog) return;
    const group = (label, items) => {
      const g = document.createElement("optgroup");
      g.label = label;
      items.forEach(([value, text]) => { const o = document.createElement("option"); o.value = value; o.textContent = text; g.append(o); });
      if (items.length) source.append(g);
    };
    group(t("samples"), data.catalog.types.map((ty) => ["type:" + ty.type, ty.name]));
    group(t("recent"), (data.recent || []).map((id) => ["copy:" + id, id]));
    const button = $("#send-test");
    let key = data.idempotency_key;
    button.addEventListener("click", async () => {
      clearErrors($("#test-event"));
      const choice = source.value;
      const request = choice.startsWith("copy:") ? { copy_of: choice.slice(5) } : { type: choice.slice(5) };
      if (subscription) request.subscription_id = subscription;
      button.disabled = true;
      const answer = await api("POST", tenantPath("/test-events"), request, undefined, { "idempotency-key": key + "-" + choice });
      button.disabled = false;
      if (!answer.ok) { showError($("#test-event"), answer, $("#test-error")); return; }
      // A next send is a new event.
      key = data.idempotency_key + "-" + Date.now().toString(36);
      const count = (answer.body.subscriptions || []).length;
      const link = document.createElement("a");
      link.href = "/console/t/" + encodeURIComponent(tenant) + "/deliveries?event_id=" + encodeURIComponent(answer.body.event_id);
      link.id = "test-deliveries";
      link.textContent = t("test_see");
      const line = $("#test-status");
      line.textContent = (count ? t("test_sent").replace("{n}", count) : t("test_none")) + " ";
      if (count) line.append(link);
    });
  }

  // ---- Plugin upload, with progress while the bytes go and while the service compiles -------------
  function uploadForm() {
    const form = $("#upload-form");
    if (!form) return;
    // An old version of the tenant's own plugin can go, to make room under its quotas (the API refuses the
    // latest, or one a subscription pins, and says so).
    $$("[data-delete-version]").forEach((button) => button.addEventListener("click", async () => {
      if (!confirm(t("confirm_delete"))) return;
      const [name, version] = button.dataset.deleteVersion.split("/");
      const answer = await api("DELETE", tenantPath("/plugins/" + encodeURIComponent(name) + "/versions/" + version));
      if (answer.ok) location.reload();
      else showError(document, answer, $("#versions-error"));
    }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearErrors(form);
      const name = $("#plugin-name").value.trim();
      const file = $("#plugin-file").files[0];
      if (!file) { $("#upload-error").textContent = t("pick_file"); return; }
      const progress = $("#upload-progress");
      progress.hidden = false;
      progress.value = 0;
      status($("#upload-status"), t("uploading"));
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.path + encodeURIComponent(name) + "/versions");
      xhr.setRequestHeader("x-gancho-csrf", csrf);
      xhr.setRequestHeader("content-type", "application/wasm");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total; };
      xhr.upload.onload = () => { progress.removeAttribute("value"); status($("#upload-status"), t("compiling")); };
      xhr.onerror = () => { progress.hidden = true; status($("#upload-status"), ""); $("#upload-error").textContent = t("network"); };
      xhr.onload = () => {
        progress.hidden = true;
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { body = { error: { message: xhr.responseText } }; }
        if (xhr.status >= 200 && xhr.status < 300) {
          status($("#upload-status"), t("uploaded") + " " + body.name + "@" + body.version);
          setTimeout(() => location.reload(), 1200);
        } else {
          status($("#upload-status"), "");
          showError(form, { status: xhr.status, body }, $("#upload-error"));
        }
      };
      xhr.send(file);
    });
  }

  // ---- Connections: secrets are written, never read back --------------------------------------------
  function connectionsPage() {
    const form = $("#connection-form");
    const kind = $("#c-kind");
    const showKind = () => { $("#c-header").hidden = kind.value !== "header"; $("#c-basic").hidden = kind.value !== "basic"; };
    kind.addEventListener("change", showKind);
    showKind();
    $$("[data-replace]").forEach((button) => button.addEventListener("click", () => {
      form.dataset.mode = "replace";
      $("#c-name").value = button.dataset.replace;
      $("#c-name").readOnly = true;
      $("#connection-title").textContent = button.textContent + " · " + button.dataset.replace;
      $("#c-hosts").required = false;
      form.scrollIntoView();
    }));
    $$("[data-delete-connection]").forEach((button) => button.addEventListener("click", async () => {
      if (!confirm(t("confirm_delete"))) return;
      const answer = await api("DELETE", tenantPath("/connections/" + encodeURIComponent(button.dataset.deleteConnection)));
      if (answer.ok) location.reload();
      else showError(document, answer, $("#connections-error"));
    }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const credential = kind.value === "header"
        ? { kind: "header", name: $("#c-header-name").value.trim(), value: $("#c-header-value").value }
        : { kind: "basic", username: $("#c-username").value, password: $("#c-password").value };
      const hosts = $("#c-hosts").value.split(",").map((s) => s.trim()).filter(Boolean);
      const name = $("#c-name").value.trim();
      const answer = form.dataset.mode === "replace"
        ? await api("PATCH", tenantPath("/connections/" + encodeURIComponent(name)), hosts.length ? { hosts, credential } : { credential })
        : await api("POST", tenantPath("/connections"), { name, hosts, credential });
      if (!answer.ok) { showError(form, answer, $("#connection-error")); return; }
      $$("input[type=password]", form).forEach((el) => { el.value = ""; });
      status($("#connection-status"), t("saved"));
      setTimeout(() => location.reload(), 800);
    });
  }

  // ---- Operator: tenants, keys, portal links, sample events -----------------------------------------
  function tenantsPage() {
    const form = $("#tenant-form");
    const result = $("#tenant-result");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form.parentElement);
      const answer = await api("POST", "/v1/tenants", { id: $("#t-id").value.trim(), name: $("#t-name").value.trim() });
      if (answer.ok) location.reload();
      else showError(form.parentElement, answer, $("#tenant-error"));
    });
    const onRow = (attribute, handler) => $$("[" + attribute + "]").forEach((button) =>
      button.addEventListener("click", () => handler(button.getAttribute(attribute), button)));
    const failed = (answer) => {
      result.hidden = false;
      result.textContent = "";
      const p = document.createElement("p");
      p.className = "form-error";
      p.textContent = (answer.body && answer.body.error && answer.body.error.message) || t("failed");
      result.append(p);
    };
    onRow("data-new-key", async (id) => {
      const answer = await api("POST", "/v1/tenants/" + encodeURIComponent(id) + "/keys");
      if (answer.ok) reveal(result, id + " · " + t("key_once"), answer.body.key);
      else failed(answer);
    });
    onRow("data-portal-link", async (id) => {
      const answer = await api("POST", "/v1/tenants/" + encodeURIComponent(id) + "/portal-links", {});
      if (answer.ok) reveal(result, id + " · " + t("link_once"), answer.body.url);
      else failed(answer);
    });
    onRow("data-send-sample", async (id) => {
      const type = $('[data-sample-for="' + CSS.escape(id) + '"]').value;
      const event = JSON.parse(JSON.stringify(data.samples[type]));
      event.tenant = id;
      event.id = "evt_console_" + Date.now().toString(36);
      event.timestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      const answer = await api("POST", "/v1/events", event);
      result.hidden = false;
      if (answer.ok) { result.textContent = t("event_sent") + " " + answer.body.id; }
      else failed(answer);
    });
  }

  const pages = {
    subscription: subscriptionEditor,
    delivery: deliveryPage,
    deliveries: deliveriesPage,
    plugins: uploadForm,
    connections: connectionsPage,
    tenants: tenantsPage,
  };
  document.addEventListener("DOMContentLoaded", () => {
    localTimes();
    const setup = pages[data.page];
    if (setup) setup();
    // Said once the page's script has set the page up (filled forms, bound buttons): what the browser
    // tests wait for before they act.
    document.body.dataset.ready = "true";
  });
})();
