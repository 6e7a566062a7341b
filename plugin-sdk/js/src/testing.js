// Testing a plugin natively with node's test runner: no wasm, no host. `run` takes the same path as the
// component's entry (envelope → event object, config text → parsed config, Requests → what the host
// gets, exceptions → a plugin error), and `samples` are the SDK's sample events.

import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runMerge, runTransform, runValidate } from "./entry.js";
import { contractBroken } from "./merge.js";
import { setLogSink } from "./log.js";
import { utf8Decode } from "./request.js";

/** The endpoint URL `run` gives the subscription. */
export const TEST_ENDPOINT = "https://receiver.example/hook";

const SAMPLES_DIR = fileURLToPath(new URL("../../samples/", import.meta.url));

/** Every sample event, by file name (`call.ended.missed.json`), as JSON text. */
export const samples = Object.fromEntries(
  readdirSync(SAMPLES_DIR)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => [file, readFileSync(SAMPLES_DIR + file, "utf8")]),
);

/** A `chat.closed` event with `count` long messages (mixed senders, Spanish text and emoji). */
export function longChatClosed(count) {
  const event = JSON.parse(samples["chat.closed.json"]);
  const senders = [["contact", "Juan Gómez"], ["agent", "Lucía Pérez"], ["bot", "Asistente"]];
  const two = (n) => String(n).padStart(2, "0");
  event.data.chat.messages = Array.from({ length: count }, (_, i) => ({
    id: `m${i + 1}`,
    at: `2026-11-21T13:${two(Math.floor(i / 60) % 60)}:${two(i % 60)}Z`,
    from: senders[i % 3][0],
    author: senders[i % 3][1],
    type: "text",
    text: `Mensaje ${i + 1} — ¿podrías confirmar la dirección de envío? 📦 ${"ñ".repeat(240)}`,
  }));
  return JSON.stringify(event);
}

let logs = [];

/** Returns and clears the lines logged since the last call, as `[level, message]`. */
export function takeLogs() {
  const taken = logs;
  logs = [];
  return taken;
}

/** A plugin's error as `run` throws it: `kind` is `"permanent"` or `"transient"`. */
export class PluginErrorResult extends Error {
  constructor({ kind, message }) {
    super(`${kind} plugin error: ${message}`);
    this.kind = kind;
    this.pluginMessage = message;
  }
}

/**
 * Runs `plugin` (the module, or an object with `transform`) on an event envelope (JSON text) with a
 * configuration (JSON text) for a subscription whose endpoint is TEST_ENDPOINT. Returns the requests as
 * the host gets them, with `bodyText()`, `bodyJson()`, `bodyForm()` and `header(name)`; throws a
 * PluginErrorResult for a plugin error.
 */
export function run(plugin, eventJson, configJson = "{}", { endpointUrl = TEST_ENDPOINT } = {}) {
  setLogSink((level, message) => logs.push([level, message]));
  const envelope = JSON.parse(eventJson);
  const event = {
    id: envelope.id,
    eventType: envelope.type,
    tenant: envelope.tenant,
    timestamp: envelope.timestamp,
    data: JSON.stringify(envelope.data),
  };
  const subscription = { id: "sub_test", endpointUrl, config: configJson };
  let requests;
  try {
    requests = runTransform(plugin, event, subscription);
  } catch (error) {
    throw new PluginErrorResult(error);
  }
  return requests.map((request) => new SentRequest(request));
}

/** `null` if `plugin` accepts the configuration (JSON text), else `{field, message}`. */
export function validate(plugin, configJson) {
  try {
    runValidate(plugin, configJson);
    return null;
  } catch (error) {
    return error;
  }
}

/**
 * Runs `plugin.merge` on `requests` (Requests, or what `run` returned) with a configuration (JSON text),
 * the way Gancho does: a request without a URL gets the endpoint first. Returns `[{request, carries}]`
 * with SentRequests; throws a PluginErrorResult for a plugin error, and an Error naming what is wrong
 * when the answer breaks the contract Gancho holds `merge` to.
 */
export function merge(plugin, requests, configJson = "{}", { endpointUrl = TEST_ENDPOINT } = {}) {
  setLogSink((level, message) => logs.push([level, message]));
  // A Request as the plugin built it, or a SentRequest as `run` returned it.
  const witRequests = requests.map((request) =>
    request instanceof SentRequest
      ? { method: request.method, url: request.url ?? endpointUrl, headers: request.headers, body: request.body }
      : { method: request.methodName, url: request.urlValue ?? endpointUrl, headers: request.headers, body: request.body },
  );
  const subscription = { id: "sub_test", endpointUrl, config: configJson };
  let answer;
  try {
    answer = runMerge(plugin, witRequests, subscription);
  } catch (error) {
    throw new PluginErrorResult(error);
  }
  const broken = contractBroken(answer, requests.length);
  if (broken) throw new Error(`merge's answer to ${requests.length} requests would be refused by Gancho: ${broken}`);
  return answer.map(({ request, carries }) => ({ request: new SentRequest(request), carries }));
}

/** A request as the host receives it. */
export class SentRequest {
  constructor({ method, url, headers, body }) {
    this.method = method;
    this.url = url;
    this.headers = headers;
    this.body = body;
  }
  bodyText() {
    return utf8Decode(this.body);
  }
  bodyJson() {
    return JSON.parse(this.bodyText());
  }
  /** The form body's `[name, value]` pairs, in order. */
  bodyForm() {
    const text = this.bodyText();
    if (text === "") return [];
    const decode = (part) => decodeURIComponent(part.replace(/\+/g, " "));
    return text.split("&").map((pair) => {
      const at = pair.indexOf("=");
      return at < 0 ? [decode(pair), ""] : [decode(pair.slice(0, at)), decode(pair.slice(at + 1))];
    });
  }
  /** The first value of header `name` (any case), or null. */
  header(name) {
    const found = this.headers.find(([key]) => key.toLowerCase() === name.toLowerCase());
    return found ? found[1] : null;
  }
}
