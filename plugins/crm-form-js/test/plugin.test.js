// The CRM form plugin natively, on the SDK's sample events.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as plugin from "../plugin.js";
import { run, samples, takeLogs, validate } from "@gancho/plugin-sdk/testing";

const CONFIG = readFileSync(new URL("../config.example.json", import.meta.url), "utf8");

test("a missed call becomes a lead, form-encoded", () => {
  const [request] = run(plugin, samples["call.ended.missed.json"], CONFIG);
  assert.equal(request.header("content-type"), "application/x-www-form-urlencoded");
  assert.deepEqual(request.bodyForm(), [
    ["action", "create_lead"],
    ["list_id", "L-callbacks"],
    ["phone", "+5491155551234"],
    ["name", "Ñandú & Cía"],
    ["owner", "lucia@acme.example"],
    ["source", "whatsapp-line"],
    ["note", "Missed call at 2026-11-21T14:00:00Z (Soporte)"],
  ]);
  assert.ok(request.bodyText().includes("name=%C3%91and%C3%BA+%26+C%C3%ADa"), request.bodyText());
});

test("a closed chat becomes a note with the texts, and is logged", () => {
  takeLogs();
  const [request] = run(plugin, samples["chat.closed.json"], CONFIG);
  const form = Object.fromEntries(request.bodyForm());
  assert.equal(form.action, "add_note");
  assert.ok(form.note.startsWith("Chat "), form.note);
  assert.ok(form.note.includes("Juan Gómez: Hola, ¿tienen envíos a Medellín? 🚚"), form.note);
  assert.match(takeLogs()[0][1], /messages have text$/);
});

test("answered calls and other events send nothing", () => {
  for (const name of ["call.ended.json", "call.started.json", "template.quick_reply.json", "invoice.paid.json"]) {
    assert.deepEqual(run(plugin, samples[name], CONFIG), [], name);
  }
});

test("the configuration needs list_id and nothing unknown", () => {
  assert.equal(validate(plugin, CONFIG), null);
  assert.equal(validate(plugin, "{}").field, "list_id");
  assert.equal(validate(plugin, '{"list_id": "L1", "colour": "red"}').field, "colour");
  assert.equal(validate(plugin, "[1]").field, null);
  assert.throws(() => run(plugin, samples["call.ended.missed.json"], "{}"), { kind: "permanent" });
});
