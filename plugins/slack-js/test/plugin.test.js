// The Slack plugin natively, on the SDK's sample events: what each message says, and that every one fits
// Slack's limits. The same mapping as plugins/slack; the workspace's tests compare the two through the host.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as plugin from "../plugin.js";
import { run, samples, longChatClosed, validate } from "@gancho/plugin-sdk/testing";

const ALL_ON = '{"notify_answered_calls": true, "notify_recordings": true}';

/** The one message `event` maps to, checked against Slack's limits. */
function message(event, config = "{}") {
  const requests = run(plugin, event, config);
  assert.equal(requests.length, 1, "one message per event");
  const [request] = requests;
  assert.equal(request.method, "post");
  assert.equal(request.url, null, "goes to the webhook URL, the subscription's endpoint");
  assert.deepEqual(request.headers, [["content-type", "application/json"]]);
  const body = request.bodyJson();
  assertFitsSlack(body);
  return body;
}

function assertFitsSlack(body) {
  const chars = (text) => [...text].length;
  assert.ok(chars(body.text) >= 1 && chars(body.text) <= 3000);
  assert.ok(body.blocks.length >= 1 && body.blocks.length <= 50, `${body.blocks.length} blocks`);
  let total = 0;
  for (const block of body.blocks) {
    const texts = [];
    if (block.type === "header") texts.push(block.text.text);
    if (block.type === "section" && block.text) texts.push(block.text.text);
    for (const field of block.fields ?? []) texts.push(field.text);
    for (const element of block.elements ?? []) texts.push(element.text?.text ?? element.text, element.url ?? "");
    for (const text of texts) {
      assert.ok(chars(text) <= 3000, `a text of ${chars(text)} characters`);
      assert.ok(!/&(?!amp;|lt;|gt;)/.test(text), `unescaped & in ${text}`);
      total += Buffer.byteLength(text);
    }
  }
  assert.ok(total <= 10_000, `${total} bytes of block text`);
}

test("a missed call shows caller, called, queue and time, escaped", () => {
  assert.deepEqual(message(samples["call.ended.missed.json"]), {
    text: "📞 Missed call from Ñandú &amp; Cía",
    blocks: [
      { type: "header", text: { type: "plain_text", text: "📞 Missed call", emoji: true } },
      {
        type: "section",
        fields: [
          { type: "mrkdwn", text: "*Caller*\nÑandú &amp; Cía\n+5491155551234" },
          { type: "mrkdwn", text: "*Called*\n+541140001234 · ext. 201" },
          { type: "mrkdwn", text: "*Queue*\nSoporte" },
          { type: "mrkdwn", text: "*When*\n2026-11-21 14:00 UTC" },
        ],
      },
    ],
  });
});

test("answered calls are opt-in and carry duration, cost and the recording", () => {
  assert.deepEqual(run(plugin, samples["call.ended.json"], "{}"), []);
  const body = message(samples["call.ended.json"], '{"notify_answered_calls": true, "channel": "#llamadas"}');
  assert.equal(body.text, "✅ Answered call from Juan Gómez");
  assert.equal(body.channel, "#llamadas");
  assert.deepEqual(body.blocks[1].fields.slice(-2), [
    { type: "mrkdwn", text: "*Duration*\n2 min 14 s" },
    { type: "mrkdwn", text: "*Cost*\n12.50 ARS" },
  ]);
  assert.equal(body.blocks[2].elements[0].url, "https://pbx.example/rec/cl_9f3a.mp3");
});

test("a closed chat has its summary, transcript and button", () => {
  const body = message(samples["chat.closed.json"]);
  assert.equal(body.text, "💬 Chat closed: Juan Gómez");
  assert.equal(body.blocks[2].type, "divider");
  assert.ok(body.blocks[3].text.text.startsWith("*Juan Gómez* (13:40): Hola, ¿tienen envíos a Medellín? 🚚\n"));
  assert.equal(body.blocks.at(-1).elements[0].text.text, "Open conversation");
});

test("a 400-message chat is cut with its button kept", () => {
  const body = message(longChatClosed(400));
  const more = body.blocks.at(-2);
  assert.equal(more.type, "context");
  assert.match(more.elements[0].text, /^…and \d+ more messages — open the conversation/);
  assert.equal(body.blocks.at(-1).type, "actions");
});

test("a quick reply says who clicked what, with the template text", () => {
  const body = message(samples["template.quick_reply.json"]);
  assert.match(body.blocks[0].text.text, /clicked \*«.+»\* on `confirmacion_cita`\n>/);
});

test("every sample fits Slack's limits in every configuration", () => {
  for (const [name, sample] of Object.entries(samples)) {
    for (const config of ["{}", ALL_ON, '{"include_transcript": false}']) {
      for (const request of run(plugin, sample, config)) {
        assert.doesNotThrow(() => assertFitsSlack(request.bodyJson()), name);
      }
    }
  }
});

test("other events and switched-off ones send nothing", () => {
  assert.deepEqual(run(plugin, samples["call.started.json"]), []);
  assert.deepEqual(run(plugin, samples["invoice.paid.json"]), []);
  assert.deepEqual(run(plugin, samples["chat.closed.json"], '{"notify_closed_chats": false}'), []);
});

test("a bad configuration is refused naming the field", () => {
  for (const [config, field] of [
    ['{"icon_emoji": "rocket"}', "icon_emoji"],
    ['{"notify_missed_call": true}', "notify_missed_call"],
    ['{"notify_answered_calls": "yes"}', "notify_answered_calls"],
  ]) {
    assert.equal(validate(plugin, config).field, field);
    assert.throws(() => run(plugin, samples["call.ended.missed.json"], config), (error) => {
      return error.kind === "permanent" && error.message.includes(field);
    });
  }
  const example = readFileSync(new URL("../config.example.json", import.meta.url), "utf8");
  assert.equal(validate(plugin, example), null);
});
