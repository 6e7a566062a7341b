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
  function words(answer, technical) {
    const error = (answer.body && answer.body.error) || {};
    // The operator's pages speak the API's language.
    if (!tenant && error.message) return error.message;
    const field = error.field ? String(error.field) : "";
    const top = field.split(/[.\[]/)[0];
    if (top === "config") {
      const template = templateWords(error.message || "");
      if (template) return template;
    }
    const said = texts["js.err." + error.code] || texts["js.field." + field] || texts["js.field." + top]
      || (answer.status === 0 ? t("network") : t("err.other") + (answer.status ? " (HTTP " + answer.status + ")" : ""));
    // Integrators' pages (plugins, connections) add the service's own words, which they need.
    return technical && error.message ? said + " — " + error.message : said;
  }
  function showError(root, answer, fallback, technical) {
    const error = (answer.body && answer.body.error) || {};
    const message = words(answer, technical);
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
      else showError(document, answer, $("#versions-error"), true);
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
          showError(form, { status: xhr.status, body }, $("#upload-error"), true);
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
      else showError(document, answer, $("#connections-error"), true);
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
      if (!answer.ok) { showError(form, answer, $("#connection-error"), true); return; }
      $$("input[type=password]", form).forEach((el) => { el.value = ""; });
      status($("#connection-status"), t("saved"));
      setTimeout(() => location.reload(), 800);
    });
    // A Google service account: its JSON key file, bounded and checked by the service.
    const sa = $("#sa-form");
    sa.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(sa);
      const query = new URLSearchParams({ name: $("#sa-name").value.trim(), hosts: $("#sa-hosts").value, scopes: $("#sa-scopes").value });
      const answer = await api("POST", sa.dataset.path + "?" + query, $("#sa-file").files[0], "application/json");
      // Her words only: the service's own would not name the field.
      if (!answer.ok) { showError(sa, answer, $("#sa-error"), false); return; }
      status($("#sa-status"), t("saved"));
      setTimeout(() => location.replace(location.pathname), 800);
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

  // What the pages' scripts in other files use.
  const helpers = { data, texts, t, tenant, tenantPath, api, status, clearErrors, showError, reveal, words, templateWords, localToRfc3339, zone, $, $$ };
  const pages = {
    subscription: () => { window.GanchoWebhook.editor(helpers); window.GanchoControls.canary(helpers); },
    delivery: () => window.GanchoDeliveries.deliveryPage(helpers),
    deliveries: () => window.GanchoDeliveries.deliveriesPage(helpers),
    plugins: uploadForm,
    connections: connectionsPage,
    tenants: tenantsPage,
    keys: () => window.GanchoControls.keys(helpers),
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
