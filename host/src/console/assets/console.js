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
  async function api(method, path, body, contentType) {
    const headers = { "x-gancho-csrf": csrf };
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
  function showError(root, answer, fallback) {
    const error = (answer.body && answer.body.error) || {};
    const message = error.message || t("failed") + " (HTTP " + answer.status + ")";
    const field = error.field ? String(error.field).split(/[.\[]/)[0] : null;
    const target = field && $('[data-error-for="' + field + '"]', root);
    if (target) {
      target.textContent = message;
      const input = target.previousElementSibling;
      if (input && input.matches("input, select, textarea")) input.classList.add("invalid");
    } else {
      (fallback || $(".form-error", root)).textContent = message;
    }
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
  const localToRfc3339 = (value) => (value.length === 16 ? value + ":00Z" : value);

  // ---- The subscription editor ------------------------------------------------------------------
  function subscriptionEditor() {
    const form = $("#subscription-form");
    const existing = data.subscription;
    const plugin = $("#plugin");
    const body = $("#tpl-body");
    const templateEditor = $("#template-editor");
    const configEditor = $("#config-editor");
    const previewEvent = $("#preview-event");
    const isTemplate = () => /^template(@\d+)?$/.test(plugin.value);
    let lastFocus = body;

    if (existing) {
      const base = existing.plugin.replace(/@\d+$/, "");
      plugin.value = [...plugin.options].some((o) => o.value === existing.plugin) ? existing.plugin : base;
      $("#endpoint_url").value = existing.endpoint_url;
      const config = existing.config || {};
      if (/^template$/.test(base)) {
        $("#tpl-format").value = config.format || "json";
        $("#tpl-method").value = (config.method || "POST").toUpperCase();
        $("#tpl-url").value = config.url || "";
        body.value = config.template || "";
      } else {
        $("#config-json").value = JSON.stringify(config, null, 2);
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

    function eventTypes() {
      const checked = $$('input[name="event_type"]:checked').map((el) => el.value);
      const others = $("#other_events").value.split(",").map((s) => s.trim()).filter(Boolean);
      return checked.concat(others);
    }
    function matches(pattern, type) {
      if (pattern === "*") return true;
      if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
      return pattern === type;
    }
    function chosenSamples() {
      const types = eventTypes();
      const chosen = data.samples.filter((s) => types.some((p) => matches(p, s.type)));
      return chosen.length ? chosen : data.samples;
    }
    function config() {
      if (!isTemplate()) {
        try { return JSON.parse($("#config-json").value || "{}"); }
        catch (error) { return { __invalid: error.message }; }
      }
      const c = { format: $("#tpl-format").value, method: $("#tpl-method").value, template: body.value };
      if ($("#tpl-url").value.trim()) c.url = $("#tpl-url").value.trim();
      return c;
    }

    // The variables of the chosen events' samples: the envelope and every field path of their data.
    function variables() {
      const paths = new Set(["event.id", "event.type", "event.tenant", "event.timestamp"]);
      const walk = (value, path) => {
        if (value !== null && typeof value === "object") {
          if (path) paths.add(path);
          Object.keys(value).forEach((key) => walk(value[key], path ? path + "." + key : key));
        } else if (path) {
          paths.add(path);
        }
      };
      chosenSamples().forEach((s) => walk(s.event.data, ""));
      return [...paths];
    }
    function renderVariables() {
      const box = $("#variables");
      box.textContent = "";
      variables().forEach((name) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "variable";
        button.textContent = "{{" + name + "}}";
        button.addEventListener("click", () => insert("{{" + name + "}}"));
        box.append(button);
      });
    }
    function insert(text) {
      const target = lastFocus || body;
      const start = target.selectionStart ?? target.value.length;
      const end = target.selectionEnd ?? target.value.length;
      target.value = target.value.slice(0, start) + text + target.value.slice(end);
      target.focus();
      target.selectionStart = target.selectionEnd = start + text.length;
      schedulePreview();
    }
    [body, $("#tpl-url")].forEach((el) => el.addEventListener("focus", () => { lastFocus = el; }));

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
      group(texts["js.samples"] || "Samples", chosenSamples().map((s) => ["sample:" + s.event.id, s.type + " · " + s.event.id]));
      group(texts["js.recent"] || "Recent", (data.recent || []).map((id) => ["event:" + id, id]));
      if ([...previewEvent.options].some((o) => o.value === previous)) previewEvent.value = previous;
    }

    function showMode() {
      templateEditor.hidden = !isTemplate();
      configEditor.hidden = isTemplate();
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
      if (isTemplate() && !c.template.trim() && c.method !== "GET") {
        status(state, t("write_template"));
        output.textContent = "";
        return;
      }
      const request = { plugin: plugin.value, config: c };
      const endpoint = $("#endpoint_url").value.trim();
      if (endpoint) request.endpoint_url = endpoint;
      const choice = previewEvent.value || "";
      if (choice.startsWith("event:")) request.event_id = choice.slice(6);
      else {
        const sample = data.samples.find((s) => "sample:" + s.event.id === choice) || chosenSamples()[0];
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
        output.textContent = (answer.body && answer.body.error && answer.body.error.message) || t("failed");
        return;
      }
      const run = answer.body;
      if (run.outcome === "plugin_error") {
        status(state, t("preview_error"));
        // The plugin's own words, without the run's preamble ("plugin template@1 failed on event …:").
        const message = run.error.message.replace(/^plugin \S+ failed on event [^:]*: (permanent plugin error: )?/, "");
        output.classList.add("failed");
        output.textContent = message;
        const unknown = /unknown template variable (\{\{[^}]*\}\})/.exec(message);
        const target = isTemplate() ? templateError : $("#config-error");
        target.textContent = (unknown ? t("unknown_variable") + " " + unknown[1] + ": " : "") + message;
        if (isTemplate()) body.classList.add("invalid");
        return;
      }
      if (run.outcome === "skipped") {
        status(state, t("preview_skipped"));
        return;
      }
      status(state, t("preview_ok") + " (" + run.elapsed_ms.toFixed(2) + " ms)");
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

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
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
        endpoint_url: $("#endpoint_url").value.trim(),
        config: c,
        enabled: $("#enabled").checked,
      };
      const key = orderingKey();
      if (key) request.ordering_key = key;
      else if (existing && existing.ordering) request.ordering_key = null;
      status($("#save-status"), t("saving"));
      const answer = existing
        ? await api("PATCH", tenantPath("/subscriptions/" + encodeURIComponent(existing.id)), request)
        : await api("POST", tenantPath("/subscriptions"), request);
      status($("#save-status"), answer.ok ? t("saved") : "");
      if (!answer.ok) {
        showError(form, answer, $("#form-error"));
        return;
      }
      if (!existing) {
        reveal($("#secret-box"), t("secret_once"), answer.body.secret);
        const link = document.createElement("a");
        link.href = "/console/t/" + encodeURIComponent(tenant) + "/subscriptions/" + encodeURIComponent(answer.body.id);
        link.textContent = "→ " + answer.body.id;
        link.id = "saved-link";
        $("#secret-box").append(link);
      }
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
    renderEventChoices();
    schedulePreview();
  }

  // ---- Deliveries: retry one, replay a range --------------------------------------------------------
  function deliveryPage() {
    const button = $("#retry");
    button.addEventListener("click", async () => {
      status($("#retry-error"), "");
      button.disabled = true;
      const answer = await api("POST", tenantPath("/deliveries/" + encodeURIComponent(button.dataset.delivery) + "/retry"));
      button.disabled = false;
      if (!answer.ok) {
        showError(document, answer, $("#retry-error"));
        return;
      }
      status($("#retry-status"), t("retry_queued"));
      setTimeout(() => location.reload(), 1500);
    });
  }
  function deliveriesPage() {
    const form = $("#replay-form");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form.parentElement);
      const request = { from: localToRfc3339($("#r-from").value), to: localToRfc3339($("#r-to").value) };
      const answer = await api("POST", tenantPath("/subscriptions/" + encodeURIComponent($("#r-sub").value) + "/replay"), request);
      if (!answer.ok) showError(form.parentElement, answer, $("#replay-error"));
      else status($("#replay-status"), t("replayed") + " " + answer.body.replayed);
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
          status($("#upload-status"), t(body.existing ? "upload_existing" : "uploaded") + " " + body.name + "@" + body.version);
          // Subscriptions that follow the latest version run this one at once: say which, and stay.
          const following = body.subscriptions_following || [];
          if (following.length === 0) { setTimeout(() => location.reload(), 1200); return; }
          const box = $("#upload-following");
          const shared = form.dataset.path === "/v1/plugins/"; // the operator's: every tenant's subscriptions
          box.hidden = false;
          box.textContent = t("upload_following") + " " +
            following.map((s) => (shared ? s.tenant + " " : "") + (s.name ? s.name + " " : "") + s.id + " (" + s.event_types.join(", ") + ")").join("; ") +
            (body.subscriptions_following_count > following.length ? "; +" + (body.subscriptions_following_count - following.length) : "");
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
    const setup = pages[data.page];
    if (setup) setup();
    // Said once the page's script has set the page up (filled forms, bound buttons): what the browser
    // tests wait for before they act.
    document.body.dataset.ready = "true";
  });
})();
