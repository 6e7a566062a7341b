// One row per event; rows waiting for the same URL are merged into one request of all of them.
import { Request, mergeBy, utf8Decode } from "@gancho/plugin-sdk";

export function transform(event) {
  return [Request.json({ values: [[event.id, event.type]] })];
}

export function merge(requests, { config }) {
  return mergeBy(requests, { maxRequests: config.max_rows ?? 500 }, (request) => request.urlValue, (url, batch) =>
    Request.json({ values: batch.flatMap((request) => JSON.parse(utf8Decode(request.body)).values) }).url(url));
}
