// The bridge between the component's exports and the integrator's `transform` (and `validateConfig`,
// `merge`): WIT records in, parsed objects to the plugin, its Requests back as WIT records, and every
// exception turned into a `plugin-error` (or `config-error`) that carries its message, never a bare trap.

import { ConfigError, parseConfig } from "./config.js";
import { setLogSink } from "./log.js";
import { Request } from "./request.js";
import { setTimeSource } from "./time.js";

/**
 * The `transform`, `validateConfig` and `merge` exports for `plugin` (the module the integrator wrote),
 * with the host's `log` and `time` imports behind the SDK's `log` and `localTime`.
 */
export function exportsFor(plugin, hostLog, hostTime) {
  if (typeof plugin.transform !== "function") {
    throw new Error("the plugin module must export a function `transform(event, subscription)`");
  }
  setLogSink((level, message) => hostLog.log(level, message));
  if (hostTime) setTimeSource((instant, zone) => hostTime.toLocal(instant, zone));
  return {
    transform(event, subscription) {
      return runTransform(plugin, event, subscription);
    },
    validateConfig(text) {
      runValidate(plugin, text);
    },
    merge(requests, subscription) {
      return runMerge(plugin, requests, subscription);
    },
  };
}

/** The plugin's merged requests as WIT records (`{request, carries}`), or a thrown `plugin-error`. */
export function runMerge(plugin, witRequests, witSubscription) {
  try {
    const requests = Array.from(witRequests, fromWitRequest);
    const subscription = {
      id: witSubscription.id,
      endpointUrl: witSubscription.endpointUrl,
      config: parseConfig(witSubscription.config),
    };
    const answer = plugin.merge(requests, subscription);
    if (!Array.isArray(answer)) {
      throw new Error("merge returned something else than a list of {request, carries}");
    }
    return answer.map((merged, index) => {
      if (!merged || !Array.isArray(merged.carries)) {
        throw new Error(`merge returned something else than {request, carries} at index ${index}`);
      }
      const [request] = toWitRequests([merged.request]);
      return { request, carries: merged.carries.map((carried) => carried >>> 0) };
    });
  } catch (error) {
    throw toPluginError(error);
  }
}

/** A WIT request (with the URL Gancho resolved) as the Request the plugin's `transform` built. */
function fromWitRequest(witRequest) {
  const request = new Request().method(witRequest.method).bodyBytes(witRequest.body);
  if (witRequest.url !== null && witRequest.url !== undefined) request.url(witRequest.url);
  for (const [name, value] of witRequest.headers) request.header(name, value);
  return request;
}

/** The plugin's requests as WIT records, or a thrown `plugin-error`. */
export function runTransform(plugin, witEvent, witSubscription) {
  try {
    const event = toEvent(witEvent);
    const subscription = {
      id: witSubscription.id,
      endpointUrl: witSubscription.endpointUrl,
      config: parseConfig(witSubscription.config),
    };
    const requests = plugin.transform(event, subscription);
    return toWitRequests(requests);
  } catch (error) {
    throw toPluginError(error);
  }
}

/** Nothing, or a thrown `config-error`. */
export function runValidate(plugin, text) {
  try {
    const config = parseConfig(text);
    if (typeof plugin.validateConfig === "function") plugin.validateConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) throw { field: error.field, message: error.message };
    throw { field: null, message: describe(error) };
  }
}

function toEvent(witEvent) {
  let data;
  try {
    data = JSON.parse(witEvent.data);
  } catch (error) {
    throw new PermanentErrorText(`the event's data is not valid JSON: ${error.message}`);
  }
  return { id: witEvent.id, type: witEvent.eventType, tenant: witEvent.tenant, timestamp: witEvent.timestamp, data };
}

class PermanentErrorText extends Error {
  constructor(message) {
    super(message);
    this.kind = "permanent";
  }
}

function toWitRequests(requests) {
  if (requests === undefined || requests === null) return [];
  const list = Array.isArray(requests) ? requests : [requests];
  return list.map((request, index) => {
    // Duck-typed: the plugin's copy of the SDK may be another module instance than this one.
    if (!request || typeof request.methodName !== "string" || !(request.body instanceof Uint8Array)) {
      throw new Error(`transform returned something else than a Request at index ${index}: build it with Request.json, Request.form or Request.text`);
    }
    return { method: request.methodName, url: request.urlValue, headers: request.headers, body: request.body };
  });
}

/** `PermanentError`/`TransientError` keep their kind; anything else is a permanent error naming it. */
export function toPluginError(error) {
  if (error && (error.kind === "permanent" || error.kind === "transient")) {
    return { kind: error.kind, message: String(error.message) };
  }
  return { kind: "permanent", message: `uncaught ${describe(error)}` };
}

/** `TypeError: cannot read property 'x' of undefined (at transform (plugin.js:12))`. */
function describe(error) {
  if (error instanceof Error) {
    const frame = String(error.stack || "").split("\n").map((line) => line.trim()).find((line) => line.startsWith("at "));
    return `${error.name}: ${error.message}${frame ? ` (${frame})` : ""}`;
  }
  return `exception: ${typeof error === "string" ? error : JSON.stringify(error)}`;
}
