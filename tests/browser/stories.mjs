// The console's stories in a real browser: headless Chromium (Debian's package) driven by playwright-core.
// Run by tests/console.rs, one story per run: `node stories.mjs <story>` with its inputs in the
// environment; prints one JSON line of results; exits non-zero (with the reason) when a step fails.
// Every main page gets a screenshot in $SCREENSHOTS.

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { connectStories } from "./connect-stories.mjs";
import { chartStories } from "./charts.mjs";

const env = process.env;
const base = env.GANCHO_URL;
const shots = env.SCREENSHOTS;
const story = process.argv[2];
const results = {};

const browser = await chromium.launch({
  executablePath: env.CHROMIUM,
  // Names under .test reach this machine: another site (attacker.test), or the console itself on a plain-HTTP
  // origin that is not localhost (gancho.test), where browsers send no Sec-Fetch-Site.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--host-resolver-rules=MAP *.test 127.0.0.1"],
});
// Spanish-speaking customers are the common case: the portal stories use a Spanish browser.
const locale = env.BROWSER_LOCALE || "en-US";
// Her zone: every time the portal shows (and the replay form's range) is in it.
const context = await browser.newContext({ locale, timezoneId: env.TIMEZONE || undefined, viewport: { width: 1360, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (message) => { if (message.type() === "error") consoleErrors.push(message.text()); });
page.on("pageerror", (error) => consoleErrors.push(String(error)));

const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
const text = (selector) => page.locator(selector).innerText();
// An API call from inside the page, as the page's own script makes it (cookie and CSRF token).
const fromPage = (method, path, body, withCsrf = true) =>
  page.evaluate(async ({ method, path, body, withCsrf }) => {
    const headers = { "content-type": "application/json" };
    if (withCsrf) headers["x-gancho-csrf"] = document.body.dataset.csrf;
    const response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    return { status: response.status, body: await response.text() };
  }, { method, path, body, withCsrf });

async function signIn(token) {
  await page.goto(`${base}/console`);
  assert.match(page.url(), /\/console\/sign-in$/);
  await page.fill("#token", "wrong-token");
  await page.click("button[type=submit]");
  assert.match(await text(".field-error"), /not valid|no es válido/);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForLoadState();
}

// What each language's pages say, for the customer's stories.
const WORDS = {
  es: {
    code: "es", title: /Sus webhooks/, deliveries: "Entregas", started: /Llamada iniciada \(START\)/, ended: /Llamada finalizada \(END\)/,
    crmName: "CRM – llamadas iniciadas", sheetName: "Planilla – llamadas finalizadas", legacyName: "Sistema viejo – perdidas",
    number: "numero", name: "nombre", duration: "duracion", cost: "costo", missed: "perdida",
    numberLabel: "Número", nameLabel: "Nombre de quien llama", durationLabel: "Duración (s)", costLabel: "Costo",
    statusLabel: "Estado de la llamada", is: "es", missedValue: "perdida", testBadge: /prueba/, failing: /falla/,
    saved: "Guardado.", badEmail: /e-mail/, emptyBody: /vacío/, rerunNote: /Corrija el webhook/, rerunBadge: /re-ejecutada/, couldNotBuild: /no pudo armar/,
  },
  en: {
    code: "en", title: /Your webhooks/, deliveries: "Deliveries", started: /Call started \(START\)/, ended: /Call ended \(END\)/,
    crmName: "CRM – calls started", sheetName: "Sheet – calls ended", legacyName: "Legacy – missed",
    number: "number", name: "name", duration: "duration", cost: "cost", missed: "missed",
    numberLabel: "Number", nameLabel: "Caller's name", durationLabel: "Duration (s)", costLabel: "Cost",
    statusLabel: "Call status", is: "is", missedValue: "missed", testBadge: /test/, failing: /failing/,
    saved: "Saved.", badEmail: /e-mail/, emptyBody: /empty/, rerunNote: /Fix the webhook/, rerunBadge: /re-run/, couldNotBuild: /could not build/,
  },
};

const stories = {
  ...connectStories({ browser, page, base, env, shot, text, locale, results }),
  // The phone platform's customer builds her four wishes with menus and rows only, in her language:
  // (1) on START a JSON POST with number and name; (2) nothing on TALK; (3) on END a form POST with number,
  // duration, cost and status (saved with a double click: one webhook); (4) missed calls only, a GET.
  async wishes() {
    const w = WORDS[env.WORDS || "es"];
    const tenantPath = `${base}/console/t/${env.TENANT}`;
    await page.goto(env.PORTAL_LINK);
    assert.match(await text("h1"), w.title);
    // Connections are off in this service: no tab for them.
    assert.equal(await page.locator("nav >> text=/Conexiones|Connections/").count(), 0);
    await shot(`wishes-list-empty-${w.code}`);

    const newWebhook = async () => {
      await page.goto(`${tenantPath}/subscriptions/new`);
      await page.waitForSelector("body[data-ready] #subscription-form");
    };
    const addRow = async (name, label) => {
      await page.click("#add-row");
      const row = page.locator(".body-row").last();
      await row.locator(".row-name").fill(name);
      await row.locator(".row-source").selectOption({ label });
    };
    const save = async () => {
      await page.click("#save");
      await page.waitForURL(/\/subscriptions\/sub_/);
      await page.waitForSelector("body[data-ready] #secret-box code.once");
      return { id: page.url().split("/").pop(), secret: await page.locator("#secret-box code.once").innerText() };
    };

    // (1) START → JSON POST to the CRM with number and name.
    await newWebhook();
    // Her event names, the id small beside them, only her platform's events.
    assert.match(await text("#event-types"), w.started);
    assert.match(await text("#event-types"), /call\.started/);
    await shot(`wishes-editor-new-${w.code}`);
    await page.fill("#sub-name", w.crmName);
    await page.check('input[value="call.started"]');
    await page.selectOption("#tpl-method", "POST");
    await page.selectOption("#tpl-format", "json");
    await page.fill("#endpoint_url", env.RECEIVER_URL + "/crm");
    await addRow(w.number, w.numberLabel);
    await addRow(w.name, w.nameLabel);
    await page.waitForFunction((name) => document.querySelector("#preview-output").textContent.includes(`"${name}": "Juan Gómez"`), w.name);
    // A chip goes into the field being typed in (here: the row's text), not into the body.
    await page.click("#add-row");
    const extra = page.locator(".body-row").last();
    await extra.locator(".row-name").fill("x");
    await page.click("#endpoint_url");
    await page.keyboard.press("End");
    await page.click('#variables [data-variable="call.queue"]');
    assert.match(await page.inputValue("#endpoint_url"), /\{\{call\.queue\}\}$/);
    assert.doesNotMatch(await page.inputValue("#tpl-body"), /call\.queue/);
    await page.fill("#endpoint_url", env.RECEIVER_URL + "/crm");
    await extra.locator(".remove").click();
    await page.waitForFunction(() => !document.querySelector("#tpl-body").value.includes('"x"'));
    await shot(`wishes-editor-start-${w.code}`);
    const crm = await save();
    assert.equal(await page.locator(".body-row").count(), 2, "the rows are read back from the template");

    // (3) END → a form POST to the spreadsheet script; saved with a double click.
    await newWebhook();
    await page.fill("#sub-name", w.sheetName);
    await page.check('input[value="call.ended"]');
    await page.selectOption("#tpl-format", "form");
    await page.fill("#endpoint_url", env.RECEIVER_URL + "/sheet");
    await addRow(w.number, w.numberLabel);
    await addRow(w.duration, w.durationLabel);
    await addRow(w.cost, w.costLabel);
    await addRow(w.missed, w.statusLabel);
    await page.waitForFunction(() => /=%2B5491155551234/.test(document.querySelector("#preview-output").textContent));
    await shot(`wishes-editor-end-form-${w.code}`);
    await page.dblclick("#save");
    await page.waitForURL(/\/subscriptions\/sub_/);
    await page.waitForSelector("body[data-ready] #secret-box code.once");
    const sheet = { id: page.url().split("/").pop(), secret: await page.locator("#secret-box code.once").innerText() };

    // (4) Missed calls only → a GET to the legacy system, the number in its query.
    await newWebhook();
    await page.fill("#sub-name", w.legacyName);
    await page.check('input[value="call.ended"]');
    await page.click("#add-condition");
    const condition = page.locator(".condition").last();
    await condition.locator(".cond-field").selectOption({ label: w.statusLabel });
    await condition.locator(".cond-op").selectOption({ label: w.is });
    await condition.locator(".cond-value").selectOption({ label: w.missedValue });
    await page.selectOption("#tpl-method", "GET");
    await page.fill("#endpoint_url", env.RECEIVER_URL + "/legacy");
    await addRow(w.number, w.numberLabel);
    await page.waitForFunction(() => /^GET .*\/legacy\?/.test(document.querySelector("#preview-output").textContent));
    await shot(`wishes-editor-missed-get-${w.code}`);
    const legacy = await save();
    assert.equal(await page.locator(".condition").count(), 1, "the condition is read back");
    assert.equal(await page.locator(".condition .cond-value").inputValue(), "missed");

    // (2) Nothing on TALK: the list shows three webhooks by her names, no plugin versions.
    await page.goto(`${tenantPath}/subscriptions`);
    assert.equal(await page.locator("#subscriptions tbody tr").count(), 3);
    const list = await text("#subscriptions");
    assert.doesNotMatch(list, /template@|talk|TALK/);
    assert.match(list, new RegExp(w.crmName));
    await shot(`wishes-list-${w.code}`);
    Object.assign(results, { crm: crm.id, crmSecret: crm.secret, sheet: sheet.id, sheetSecret: sheet.secret, legacy: legacy.id, legacySecret: legacy.secret });
  },

  // The deliveries of her events, in her words and her time; a test event, marked as such.
  async herDeliveries() {
    const w = WORDS[env.WORDS || "es"];
    await page.goto(env.PORTAL_LINK);
    await page.click("nav >> text=" + w.deliveries);
    await page.waitForSelector("body[data-ready] #deliveries tbody tr");
    assert.match(await text("#deliveries"), new RegExp(w.sheetName));
    // The destination is named; times are in her zone (not UTC ISO strings).
    assert.match(await page.locator("#deliveries td.destination").first().innerText(), /127\.0\.0\.1/);
    const when = await page.locator("#deliveries tbody tr td time").first().innerText();
    assert.doesNotMatch(when, /Z$|T\d\d:/, "a time in her zone, not an RFC 3339 string");
    await shot(`deliveries-${w.code}`);
    // A test event of a sample type, through all the matching webhooks.
    await page.selectOption("#test-source", { label: w.ended.source.replace(/\\/g, "") });
    await page.click("#send-test");
    await page.waitForSelector("#test-status a");
    await page.click("#test-status a");
    await page.waitForSelector("body[data-ready] #deliveries tbody tr");
    assert.ok(await page.locator('#deliveries tr[data-test="true"]').count() > 0, "test deliveries are marked");
    assert.match(await text("#deliveries"), w.testBadge);
    await shot(`deliveries-test-${w.code}`);
    await page.locator('#deliveries tr[data-test="true"] a').first().click();
    await page.waitForSelector("#delivery-status");
    await shot(`delivery-test-${w.code}`);
  },

  // A failing endpoint is shown on the list (since when, why, how many), and she asks to be told.
  async failing() {
    const w = WORDS[env.WORDS || "es"];
    await page.goto(env.PORTAL_LINK);
    await page.waitForSelector(`#subscriptions tr[data-id="${env.SUBSCRIPTION}"]`);
    const row = page.locator(`#subscriptions tr[data-id="${env.SUBSCRIPTION}"]`);
    assert.equal(await row.getAttribute("data-health"), "failing");
    assert.match(await row.locator("td.health").innerText(), w.failing);
    assert.match(await row.locator("td.health").innerText(), /500/);
    await shot(`list-failing-${w.code}`);
    await page.click("nav >> text=" + w.deliveries);
    await page.waitForSelector('#deliveries tr[data-status="failed"], #deliveries tr[data-status="dead"]');
    assert.match(await page.locator(`#deliveries tr[data-status="failed"] .error-cell, #deliveries tr[data-status="dead"] .error-cell`).first().innerText(), /500/);
    await shot(`deliveries-failing-${w.code}`);
  },

  // "Tell me if it fails": her e-mail and a webhook of hers, saved with the webhook.
  async notify() {
    const w = WORDS[env.WORDS || "es"];
    await page.goto(env.PORTAL_LINK);
    await page.goto(`${base}/console/t/${env.TENANT}/subscriptions/${env.SUBSCRIPTION}`);
    await page.waitForSelector("body[data-ready] #subscription-form");
    // A wrong address is refused next to the fields, in her words.
    await page.fill("#notify-email", "ana@");
    await page.click("#save");
    await page.waitForSelector('[data-error-for="notify"]:not(:empty)');
    assert.match(await text('[data-error-for="notify"]'), w.badEmail);
    await page.fill("#notify-email", "ana@example.com");
    await page.fill("#notify-webhook", env.NOTIFY_URL);
    await page.click("#save");
    await page.waitForSelector("#save-status >> text=" + w.saved);
    await shot(`editor-notify-${w.code}`);
  },

  // Recovered: the list says it works again.
  async recovered() {
    await page.goto(env.PORTAL_LINK);
    const row = page.locator(`#subscriptions tr[data-id="${env.SUBSCRIPTION}"]`);
    await row.waitFor();
    assert.notEqual(await row.getAttribute("data-health"), "failing");
  },

  // A template that cannot render is refused at save, in her words, next to the body.
  async badTemplate() {
    const w = WORDS[env.WORDS || "es"];
    await page.goto(env.PORTAL_LINK);
    await page.goto(`${base}/console/t/${env.TENANT}/subscriptions/new`);
    await page.waitForSelector("body[data-ready] #subscription-form");
    await page.check('input[value="call.ended"]');
    await page.fill("#endpoint_url", env.RECEIVER_URL + "/empty");
    await page.click("#raw-template summary");
    await page.locator("#tpl-body").waitFor();
    // (Opening the text view writes the rows' body into it: let that settle before emptying it.)
    await page.waitForTimeout(500);
    await page.fill("#tpl-body", "");
    await page.dispatchEvent("#tpl-body", "change");
    assert.equal(await page.inputValue("#tpl-body"), "");
    await page.click("#save");
    // (The live preview may write and clear its own message meanwhile: wait for the refusal itself.)
    await page.locator("#template-error, #form-error", { hasText: w.emptyBody }).first()
      .waitFor({ timeout: 10000 }).catch(() => {});
    const said = await page.locator("#template-error").innerText() + await page.locator("#form-error").innerText();
    assert.match(said, w.emptyBody);
    assert.doesNotMatch(said, /config field|template/);
    assert.match(page.url(), /\/subscriptions\/new$/, "nothing was saved");
    await shot(`editor-bad-template-${w.code}`);
  },

  // A delivery the webhook could not build (its data differs from the sample): the page says it can be
  // run again after a fix; she removes the row, runs it again, and it is delivered.
  async rerunAfterFix() {
    const w = WORDS[env.WORDS || "es"];
    await page.goto(env.PORTAL_LINK);
    await page.goto(`${base}/console/t/${env.TENANT}/deliveries/${env.DELIVERY}`);
    assert.equal(await page.getAttribute("#delivery-status", "data-status"), "plugin_error");
    assert.match(await text("#rerun-note"), w.rerunNote);
    assert.match(await text("#delivery-error"), w.couldNotBuild);
    await shot(`delivery-plugin-error-${w.code}`);
    await page.goto(`${base}/console/t/${env.TENANT}/subscriptions/${env.SUBSCRIPTION}`);
    await page.waitForSelector("body[data-ready] #subscription-form");
    // The second row (the cost, which this platform sends as text) goes.
    assert.equal(await page.locator(".body-row").count(), 2);
    await page.locator(".body-row").nth(1).locator(".remove").click();
    await page.click("#save");
    await page.waitForSelector("#save-status >> text=" + w.saved);
    await page.goto(`${base}/console/t/${env.TENANT}/deliveries/${env.DELIVERY}`);
    await page.click("#rerun");
    // The event's deliveries: the old one replaced, the re-run delivered.
    await page.waitForURL(/\/deliveries\?event_id=/, { timeout: 15000 });
    for (let i = 0; i < 40; i++) {
      if (await page.locator('#deliveries tr[data-status="succeeded"]').count()) break;
      await page.waitForTimeout(500);
      await page.reload();
    }
    assert.equal(await page.locator('#deliveries tr[data-status="succeeded"]').count(), 1);
    assert.match(await text("#deliveries"), w.rerunBadge);
    await page.locator('#deliveries tr[data-status="succeeded"] a').click();
    await page.waitForSelector("#delivery-status");
    assert.equal(await page.getAttribute("#delivery-status", "data-status"), "succeeded");
    await shot(`delivery-rerun-${w.code}`);
  },
  // The operator signs in, uploads the template plugin, creates two tenants and a key.
  async operator() {
    await signIn(env.OPERATOR_TOKEN);
    assert.match(page.url(), /\/console\/operator$/);
    assert.equal(await page.getAttribute("html", "lang"), "en");
    await page.waitForSelector("#overview");
    await shot("operator-overview-empty");

    await page.click("text=Shared plugins");
    await page.fill("#plugin-name", "template");
    await page.setInputFiles("#plugin-file", env.TEMPLATE_WASM);
    await page.click("#upload-form button[type=submit]");
    await page.waitForSelector("#plugins >> text=template", { timeout: 30000 });
    await shot("operator-plugins");

    await page.click("text=Tenants");
    // A bad id is refused, with the API's words next to the field.
    await page.fill("#t-id", "bad id!");
    await page.fill("#t-name", "Bad");
    await page.click("#tenant-form button[type=submit]");
    await page.waitForSelector('[data-error-for="id"]:not(:empty)');
    assert.match(await text('[data-error-for="id"]'), /letters, digits/);
    for (const [id, name] of [["acme", "Acme Telecom"], ["globex", "Globex"]]) {
      await page.fill("#t-id", id);
      await page.fill("#t-name", name);
      await Promise.all([page.waitForNavigation(), page.click("#tenant-form button[type=submit]")]);
      await page.waitForSelector(`tr[data-tenant="${id}"]`);
    }
    await page.click('[data-new-key="acme"]');
    const key = await page.locator("#tenant-result code.once").innerText();
    assert.match(key, /^gk_/);
    results.key = key;
    await shot("operator-tenants");
    // A sample event for a tenant, as the platform would post it.
    await page.selectOption('[data-sample-for="globex"]', "call.started");
    await page.click('[data-send-sample="globex"]');
    await page.waitForSelector("#tenant-result >> text=/Event accepted: evt_console_/");

    // The same page in Spanish, by the switch.
    await page.click("a[lang=es]");
    assert.equal(await page.getAttribute("html", "lang"), "es");
    assert.match(await text("h1"), /Clientes/);
    await shot("operator-tenants-es");
    await page.click("a[lang=en]");
    assert.match(await text("h1"), /Tenants/);
  },

  // A customer follows a portal link and builds a template subscription with the live preview.
  async portal() {
    await page.goto(env.PORTAL_LINK);
    assert.doesNotMatch(page.url(), /token=/, "the link's token must leave the address bar");
    assert.match(page.url(), /\/console\/t\/acme\/subscriptions$/);
    assert.equal(await page.getAttribute("html", "lang"), "es");
    assert.match(await text("h1"), /Sus webhooks/);
    assert.equal(await page.locator("form.sign-out").count(), 1, "a portal link's session can be ended");
    await shot("portal-subscriptions-empty-es");

    await page.click("a.button.primary");
    await page.waitForSelector("body[data-ready] #subscription-form");
    await page.check('input[value="call.ended"]');
    assert.equal(await page.inputValue("#plugin"), "template");
    await page.fill("#endpoint_url", env.RECEIVER_URL);
    await page.selectOption("#tpl-format", "json");
    // The data of call.ended is listed by name.
    await page.waitForSelector('#variables [data-variable="call.from"] >> text=Número');

    // Typed a key at a time in the raw template (the advanced view), the preview follows.
    await page.click("#raw-template summary");
    await page.click("#tpl-body");
    await page.keyboard.type('{"from": "{{call.from}}"', { delay: 15 });
    await page.keyboard.type(', "caller": "{{call.caller_name}}"}', { delay: 15 });
    await page.waitForFunction(() => document.querySelector("#preview-output").textContent.includes('"caller": "Juan Gómez"'));
    const preview = await text("#preview-output");
    assert.match(preview, /^POST /);
    assert.match(preview, /"from": "\+5491155551234"/);
    assert.match(preview, /content-type: application\/json/);

    // An unknown variable is flagged next to the template.
    await page.click("#tpl-body");
    await page.keyboard.press("End");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.type(', "x": "{{cal.from}}"', { delay: 15 });
    await page.waitForSelector("#template-error:not(:empty)");
    assert.match(await text("#template-error"), /\{\{cal\.from\}\}/);
    assert.ok(await page.locator("#tpl-body.invalid").count(), "the template is marked");
    await shot("portal-editor-unknown-variable-es");

    // Inserting a variable by clicking it; then the template is valid again.
    await page.fill("#tpl-body", '{"from": "{{call.from}}", "duration": ');
    await page.click("#tpl-body");
    await page.keyboard.press("End");
    await page.click('#variables [data-variable="call.duration_s"]');
    await page.keyboard.type("}");
    await page.waitForFunction(() => document.querySelector("#preview-output").textContent.includes('"duration": 134}'));
    assert.equal(await text("#template-error"), "");
    await shot("portal-editor-preview-es");

    // The delivery order (advanced): the call events suggest keeping each call's states in order.
    await page.click("#advanced summary");
    assert.match(await text("#ordering-hint"), /call\.id/);
    await page.selectOption("#ordering_key", "call.id");
    // Trace context for the receiver's own tracing: off until asked for.
    assert.equal(await page.isChecked("#trace-context"), false);
    await page.check("#trace-context");

    // Saved, the webhook's own page shows its signing secret once.
    await page.click("#save");
    await page.waitForURL(/\/subscriptions\/sub_/);
    await page.waitForSelector("body[data-ready] #secret-box code.once");
    results.secret = await page.locator("#secret-box code.once").innerText();
    assert.match(results.secret, /^whsec_/);
    assert.equal(await page.inputValue("#tpl-body"), '{"from": "{{call.from}}", "duration": {{call.duration_s}}}');
    results.subscription = page.url().split("/").pop();
    // Its canary rollouts (none yet) are behind "advanced", and its delivery order shows nothing held.
    await page.click("#advanced-tools summary");
    assert.match(await text("#rollouts"), /Despliegues canario/);
    await page.click("#advanced summary");
    assert.equal(await page.inputValue("#ordering_key"), "call.id");
    assert.equal(await page.isChecked("#trace-context"), true);
    await shot("portal-editor-advanced-es");
    assert.match(await text("#lanes"), /call\.id/);
    assert.match(await text("#lanes-state"), /todo fluye/);

    // An API error is shown next to the field that caused it.
    await page.fill("#endpoint_url", "not a url");
    await page.click("#save");
    await page.waitForSelector('[data-error-for="endpoint_url"]:not(:empty)');
    await shot("portal-editor-error-es");

    await page.click("nav >> text=Webhooks");
    await page.waitForSelector("#subscriptions tbody tr");
    await shot("portal-subscriptions-es");
  },

  // The delivery of the posted event is listed, with its attempts.
  async deliveries() {
    await page.goto(env.PORTAL_LINK);
    await page.click("nav >> text=Entregas");
    await page.waitForSelector("#deliveries tbody tr");
    assert.equal(await page.locator('#deliveries tr[data-status="succeeded"]').count(), 1);
    await shot("portal-deliveries-es");
    await page.click('#deliveries tr[data-status="succeeded"] a');
    await page.waitForSelector("#attempts");
    assert.equal(await page.locator("#attempts tbody tr").count(), 1);
    assert.match(await text("#attempts tbody tr"), /200/);
    assert.match(await text("#delivery-request"), /"from": "\+5491155551234"/);
    await shot("portal-delivery-es");
    // The filter by status.
    await page.goto(`${base}/console/t/acme/deliveries?status=dead`);
    assert.equal(await page.locator("#deliveries tbody tr").count(), 0);
  },

  // A dead delivery is retried from its page and succeeds.
  async retry() {
    await page.goto(env.PORTAL_LINK);
    await page.goto(`${base}/console/t/acme/deliveries/${env.DELIVERY}`);
    assert.equal(await page.getAttribute("#delivery-status", "data-status"), "dead");
    assert.match(await text("#delivery-status"), /abandonada/);
    const before = await page.locator("#attempts tbody tr").count();
    await page.click("#retry");
    await page.waitForSelector("#retry-status:not(:empty)");
    for (let i = 0; i < 40; i++) {
      await page.waitForTimeout(500);
      await page.reload();
      if ((await page.getAttribute("#delivery-status", "data-status")) === "succeeded") break;
    }
    assert.equal(await page.getAttribute("#delivery-status", "data-status"), "succeeded");
    assert.match(await text("#delivery-status"), /entregada/);
    assert.equal(await page.locator("#attempts tbody tr").count(), before + 1);
    await shot("portal-delivery-retried-es");

    // A dry run of the same version over the subscription's past events: progress, then nothing changes.
    await page.goto(`${base}/console/t/acme/subscriptions/${env.SUBSCRIPTION}`);
    await page.click("#advanced-tools summary");
    await page.fill("#dr-version", "1");
    await page.fill("#dr-last", "10");
    await page.click("#dry-run-form button[type=submit]");
    await page.waitForSelector("#dry-run-status >> text=/Terminada:/", { timeout: 30000 });
    assert.match(await text("#dry-run-status"), /template@1 → template@1: 2 eventos, 2 idénticos, 0 cambiados/);
    await shot("portal-dry-run-es");

    // Replaying a range: a reversed range is refused next to its field; a day's range finds nothing left.
    await page.click("nav >> text=Entregas");
    await page.fill("#r-from", "2026-12-02T10:00");
    await page.fill("#r-to", "2026-12-01T10:00");
    await page.click("#replay-form button[type=submit]");
    await page.waitForSelector('[data-error-for="to"]:not(:empty)');
    assert.match(await text('[data-error-for="to"]'), /posterior/);
    const now = new Date();
    const local = (d) => d.toISOString().slice(0, 16);
    await page.fill("#r-from", local(new Date(now - 86400000)));
    await page.fill("#r-to", local(new Date(now.getTime() + 60000)));
    await page.click("#replay-form button[type=submit]");
    await page.waitForSelector("#replay-status:not(:empty)");
    assert.match(await text("#replay-status"), /: 0$/);
    assert.equal(await text('[data-error-for="to"]'), "");
  },

  // Another tenant's portal link reaches none of acme's pages or data, through pages or the API.
  async isolation() {
    await page.goto(env.PORTAL_LINK);
    assert.match(page.url(), /\/console\/t\/globex\/subscriptions$/);
    for (const path of ["subscriptions", "deliveries", `subscriptions/${env.SUBSCRIPTION}`, "plugins", "connections"]) {
      const response = await page.goto(`${base}/console/t/acme/${path}`);
      assert.equal(response.status(), 404, path);
      assert.doesNotMatch(await page.content(), new RegExp(env.SUBSCRIPTION), path);
    }
    await shot("portal-other-tenant-404");
    const operatorPage = await page.goto(`${base}/console/operator/tenants`);
    assert.equal(operatorPage.status(), 403);
    await page.goto(`${base}/console/t/globex/subscriptions`);
    for (const [method, path, body] of [
      ["GET", "/v1/tenants/acme/subscriptions"],
      ["GET", `/v1/tenants/acme/subscriptions/${env.SUBSCRIPTION}`],
      ["GET", "/v1/tenants/acme/deliveries"],
      ["PATCH", `/v1/tenants/acme/subscriptions/${env.SUBSCRIPTION}`, { enabled: false }],
      ["POST", "/v1/tenants/acme/plugin-runs", { plugin: "template", event_id: "evt_portal_1" }],
      ["POST", "/v1/tenants/acme/connections", { name: "x", hosts: ["a.example"], credential: { kind: "header", name: "a", value: "b" } }],
    ]) {
      const answer = await fromPage(method, path, body);
      assert.equal(answer.status, 404, `${method} ${path}: ${answer.body}`);
    }
    for (const path of ["/v1/tenants", "/v1/tenants/acme/keys", "/v1/tenants/acme/portal-links"]) {
      const answer = await fromPage("POST", path, { id: "x", name: "x" });
      assert.equal(answer.status, 403, `${path}: ${answer.body}`);
    }
    // Without the CSRF token, the session is refused even for its own tenant.
    const noCsrf = await fromPage("GET", "/v1/tenants/globex/subscriptions", undefined, false);
    assert.equal(noCsrf.status, 403);
    const own = await fromPage("GET", "/v1/tenants/globex/subscriptions");
    assert.equal(own.status, 200);
  },

  // The portal inside the platform's page (a listed origin), and refused on a page from another origin.
  // Both pages are served from loopback, as browsers let only local pages frame a local service.
  async embedding() {
    const http = await import("node:http");
    const serve = (port) => new Promise((resolve) => {
      const server = http.createServer((request, response) => {
        response.setHeader("content-type", "text/html");
        response.end(`<!doctype html><title>panel</title><iframe id="portal" src="${env.PORTAL_LINK}" width="1200" height="800"></iframe>`);
      });
      server.listen(port, "127.0.0.1", () => resolve(server));
    });
    const panel = await serve(Number(env.PANEL_PORT));
    const elsewhere = await serve(0);
    try {
      await page.goto(`http://localhost:${env.PANEL_PORT}/panel`);
      const frame = page.frameLocator("#portal");
      await frame.locator("h1").waitFor({ timeout: 15000 });
      assert.match(await frame.locator("h1").innerText(), /webhooks/);
      await shot("portal-embedded");
      await page.goto(`http://localhost:${elsewhere.address().port}/panel`);
      await page.waitForTimeout(1500);
      const embedded = page.frames().find((f) => f !== page.mainFrame());
      assert.ok(embedded, "the frame is there");
      assert.ok(!embedded.url().startsWith(base), `a page from an origin not listed must not show the portal (${embedded.url()})`);
      const shown = await embedded.evaluate(() => document.body ? document.body.innerText : "").catch(() => "");
      assert.doesNotMatch(shown, /webhooks/);
      await shot("portal-refused-elsewhere");
      // The browser says why: the frame-ancestors policy (the only console error expected here).
      const refusals = consoleErrors.filter((e) => /violates the following Content Security Policy directive: "frame-ancestors/.test(e));
      assert.ok(refusals.length > 0, "the browser refused the frame for its frame-ancestors policy");
      refusals.forEach((e) => consoleErrors.splice(consoleErrors.indexOf(e), 1));
    } finally {
      panel.close();
      elsewhere.close();
    }
  },

  // Another site's link to a portal does not replace the operator's session: the browser is asked.
  async crossSiteLink() {
    await signIn(env.OPERATOR_TOKEN);
    assert.match(page.url(), /\/console\/operator$/);
    const http = await import("node:http");
    const attacker = await new Promise((resolve) => {
      const server = http.createServer((request, response) => {
        response.setHeader("content-type", "text/html");
        response.end(`<!doctype html><title>free prizes</title><a id="go" href="${env.PORTAL_LINK}">claim</a>`);
      });
      server.listen(0, "127.0.0.1", () => resolve(server));
    });
    try {
      await page.goto(`http://attacker.test:${attacker.address().port}/`);
      await page.click("#go");
      await page.waitForSelector("form[action='/console/link']");
      assert.match(await text("p.replace-session"), /operator console/);
      await shot("portal-link-asks");
      // Still the operator's session, untouched.
      await page.goto(`${base}/console/operator`);
      assert.match(page.url(), /\/console\/operator$/);
      await page.waitForSelector("#overview");
    } finally {
      attacker.close();
    }
  },

  // On a plain-HTTP origin that is not localhost (a LAN address, a proxy forwarding plain HTTP) the
  // browser says nothing of where the sign-in form came from; the form proves it, and sign-in works.
  async plainHttpSignIn() {
    const lan = base.replace("127.0.0.1", "gancho.test");
    await page.goto(`${lan}/console`);
    assert.match(page.url(), /\/console\/sign-in$/);
    await page.fill("#token", env.OPERATOR_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/console\/operator$/);
    await page.waitForSelector("#overview");
  },

  // The overview shows the same figures as /metrics.
  async overview() {
    await signIn(env.OPERATOR_TOKEN);
    await page.waitForSelector("#overview");
    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${env.OPERATOR_TOKEN}` } })).text();
    const newEvents = /gancho_events_received_total\{outcome="new"\} (\d+)/.exec(metrics)[1];
    assert.equal(await text('#overview td[data-label="new"]'), newEvents);
    const succeeded = /gancho_delivery_attempts_total\{status="succeeded"\} (\d+)/.exec(metrics)[1];
    assert.equal(await text('#overview td[data-label="succeeded"]'), succeeded);
    await shot("operator-overview");
  },

  // The tenant signs in with its key, uploads a plugin of its own, adds a connection.
  async tenant() {
    await signIn(env.TENANT_KEY);
    assert.match(page.url(), /\/console\/t\/acme\/subscriptions$/);
    assert.equal(await page.locator("form.sign-out").count(), 1);
    await page.click("nav >> text=Plugins");
    await page.fill("#plugin-name", "crm");
    await page.setInputFiles("#plugin-file", env.TEMPLATE_WASM);
    await page.click("#upload-form button[type=submit]");
    await page.waitForSelector("#upload-status >> text=/acme\/crm@1/", { timeout: 30000 });
    await page.waitForSelector("#own-plugins >> text=acme/crm", { timeout: 10000 });
    // The latest version cannot be deleted: the API's reason is shown.
    page.once("dialog", (dialog) => dialog.accept());
    await page.click('[data-delete-version="crm/1"]');
    await page.waitForSelector("#versions-error:not(:empty)");
    assert.match(await text("#versions-error"), /latest/);
    await shot("portal-plugins");
    await page.click("nav >> text=Connections");
    await page.fill("#c-name", "crm-main");
    await page.fill("#c-hosts", "api.crm.example");
    await page.fill("#c-header-name", "authorization");
    await page.fill("#c-header-value", "Bearer s3cr3t-value");
    await page.click("#connection-form button[type=submit]");
    await page.waitForSelector("#connections >> text=crm-main");
    assert.doesNotMatch(await page.content(), /s3cr3t-value/);
    await shot("portal-connections");
    await page.click("form.sign-out button");
    await page.waitForURL(/sign-in/);
    const after = await page.goto(`${base}/console/t/acme/subscriptions`);
    assert.match(after.url(), /sign-in/);
  },
};

// The charts' stories and the controls beside them (canary, keys), in a file of their own.
Object.assign(stories, chartStories({ page, env, base, shots, results, signIn, text }));

try {
  await stories[story]();
  assert.deepEqual(consoleErrors.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e)), [], "errors in the browser console");
  console.log(JSON.stringify(results));
} catch (error) {
  await shot(`failed-${story}`).catch(() => {});
  console.error(`story ${story} failed at ${page.url()}:\n${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
