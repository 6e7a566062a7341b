// The SDK itself: request builders, the entry's handling of errors and configurations, the helpers.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Request, PermanentError, TransientError, formEncode, isMissed, localTime, mergeBy, renderedBody, utf8Length, log } from "../src/index.js";
import { merge, run, samples, takeLogs, validate } from "../src/testing.js";

const missed = samples["call.ended.missed.json"];

test("builders set the content type and encode the body as UTF-8", () => {
  const json = Request.json({ text: "Ñandú 🚀" }).method("PUT").url("https://x.example/a").header("x-v", 2);
  assert.equal(json.methodName, "put");
  assert.deepEqual(json.headers, [["content-type", "application/json"], ["x-v", "2"]]);
  assert.deepEqual([...json.body], [...Buffer.from('{"text":"Ñandú 🚀"}')]);
  assert.equal(Buffer.from(Request.text("a&b").body).toString(), "a&b");
  assert.throws(() => new Request().method("fetch"), /unknown HTTP method/);
});

test("a form body encodes as browsers do, and decodes back in order", () => {
  const pairs = [["from", "+54 9 11 5555-1234"], ["note", "a&b=c ñ 🚀"], ["empty", ""], ["from", "again"]];
  assert.equal(formEncode([["a b", "c+d"]]), "a+b=c%2Bd");
  const plugin = { transform: () => [Request.form(pairs), Request.form({ skipped: null, kept: "1" })] };
  const [first, second] = run(plugin, missed);
  assert.deepEqual(first.bodyForm(), pairs);
  assert.deepEqual(second.bodyForm(), [["kept", "1"]]);
  assert.equal(new URLSearchParams(first.bodyText()).get("note"), "a&b=c ñ 🚀");
});

test("the plugin gets the parsed event and configuration", () => {
  let seen;
  run({ transform: (event, subscription) => { seen = { event, subscription }; } }, missed, '{"a": 1}');
  assert.equal(seen.event.type, "call.ended");
  assert.equal(seen.event.data.call.caller_name, "Ñandú & Cía");
  assert.deepEqual(seen.subscription.config, { a: 1 });
  assert.equal(seen.subscription.endpointUrl, "https://receiver.example/hook");
});

test("errors keep their kind; any other exception is a permanent error with its message", () => {
  const failing = (error) => ({ transform: () => { throw error; } });
  assert.throws(() => run(failing(new TransientError("CRM not ready")), missed), { kind: "transient", pluginMessage: "CRM not ready" });
  assert.throws(() => run(failing(new PermanentError("no phone")), missed), { kind: "permanent", pluginMessage: "no phone" });
  const typo = { transform: (event) => [Request.json(event.data.call.nope.deeper)] };
  assert.throws(() => run(typo, missed), (error) => error.kind === "permanent" && /^uncaught TypeError: .*nope|deeper/.test(error.pluginMessage));
  assert.throws(() => run(failing("a string"), missed), { pluginMessage: "uncaught exception: a string" });
  assert.throws(() => run({ transform: () => ["not a request"] }, missed), /something else than a Request/);
  assert.throws(() => run({ transform: () => [] }, missed, "[]"), /must be a JSON object/);
});

test("validateConfig is optional; a configuration must be a JSON object", () => {
  assert.equal(validate({ transform() {} }, "{}"), null);
  assert.deepEqual(validate({ transform() {} }, "{"), { field: null, message: validate({ transform() {} }, "{").message });
  assert.match(validate({ transform() {} }, "3").message, /JSON object/);
  const boom = { transform() {}, validateConfig() { throw new Error("boom"); } };
  assert.match(validate(boom, "{}").message, /^Error: boom/);
});

test("logs reach the harness as level and text", () => {
  takeLogs();
  run({ transform: () => { log.info("mapped", 3, { a: 1 }); log.warn("careful"); return []; } }, missed);
  assert.deepEqual(takeLogs(), [["info", 'mapped 3 {"a":1}'], ["warn", "careful"]]);
});

test("helpers: missed calls, rendered templates, UTF-8 lengths", () => {
  assert.equal(isMissed({ status: "missed" }), true);
  assert.equal(isMissed({ status: "busy", answered_at: "2026-01-01T00:00:00Z" }), false);
  assert.equal(isMissed({ status: "busy", answered_at: null }), true);
  const template = { body: "Hola {{1}}, ¿{{2}}? {{9}}", parameters: ["{{2}}", "x"] };
  assert.equal(renderedBody(template), "Hola {{2}}, ¿x? {{9}}");
  assert.equal(renderedBody({ parameters: [] }), null);
  assert.equal(utf8Length("ñ🚀a"), 7);
});

// A plugin that merges requests to the same URL into one whose body is their bodies joined by commas.
const joining = {
  transform: (event) => [Request.text(event.id)],
  merge: (requests, subscription) =>
    mergeBy(requests, { maxRequests: subscription.config.max ?? 100 }, (request) => request.urlValue, (url, batch) =>
      Request.text(batch.map((request) => new TextDecoder().decode(request.body)).join(",")).url(url)),
};

test("merge gets the requests as transform built them, URLs filled in, and mergeBy keeps order per key", () => {
  const requests = [
    Request.text("1").url("https://a.example/x"),
    Request.text("2"),
    Request.text("3").url("https://a.example/x"),
    Request.text("4").url("https://a.example/x"),
  ];
  const merged = merge(joining, requests, '{"max": 2}');
  assert.deepEqual(merged.map((m) => [m.carries, m.request.url, m.request.bodyText()]), [
    [[0, 2], "https://a.example/x", "1,3"],
    [[1], "https://receiver.example/hook", "2"],
    [[3], "https://a.example/x", "4"],
  ]);
  assert.equal(merged[1].request.header("content-type"), "text/plain; charset=utf-8", "a lone request goes as it was");
});

test("a merge that breaks the contract fails the test; a thrown error is a plugin error", () => {
  const answering = (answer) => ({ transform() {}, merge: (requests) => answer(requests) });
  const requests = [Request.text("a"), Request.text("b")];
  const alone = (i) => ({ request: requests[i], carries: [i] });
  assert.throws(() => merge(answering(() => [alone(0)]), requests), /index 1 is carried by no request/);
  assert.throws(() => merge(answering(() => [alone(1), alone(0)]), requests), /starts before/);
  assert.throws(() => merge(answering(() => [{ request: requests[0], carries: [1, 0] }]), requests), /not ascending/);
  assert.throws(() => merge(answering(() => [alone(0), alone(0), alone(1)]), requests), /carried twice/);
  assert.throws(() => merge(answering(() => { throw new TransientError("later"); }), requests), { kind: "transient", pluginMessage: "later" });
  assert.throws(() => merge(answering(() => ["nope"]), requests), { kind: "permanent" });
});

test("localTime follows daylight saving in the customer's zone, as the host does", () => {
  assert.equal(localTime("2026-03-29T00:59:59Z", "Europe/Madrid").rfc3339, "2026-03-29T01:59:59+01:00");
  const madrid = localTime("2026-03-29T01:00:00Z", "Europe/Madrid");
  assert.deepEqual([madrid.hour, madrid.abbreviation, madrid.offsetSeconds], [3, "CEST", 7200]);
  assert.equal(localTime("2026-09-06T03:59:00Z", "America/Santiago").rfc3339, "2026-09-05T23:59:00-04:00");
  const santiago = localTime("2026-09-06T04:00:00Z", "America/Santiago");
  assert.deepEqual([santiago.rfc3339, santiago.abbreviation], ["2026-09-06T01:00:00-03:00", "-03"]);
  const ba = localTime("2026-11-21T14:03:07.5Z", "America/Argentina/Buenos_Aires");
  assert.deepEqual([ba.rfc3339, ba.abbreviation, ba.nanosecond], ["2026-11-21T11:03:07-03:00", "-03", 500000000]);
  assert.throws(() => localTime("2026-03-29T01:00:00Z", "Europe/Madird"), (error) =>
    error instanceof PermanentError && error.message.startsWith('unknown time zone "Europe/Madird"; name an IANA'));
  assert.throws(() => localTime("yesterday", "UTC"), /"yesterday" is not an RFC 3339 instant/);
});
