// Gancho's plugin SDK for JavaScript: what an integrator writes against. A plugin module exports
// `transform(event, subscription)` (and optionally `validateConfig(config)` and `merge(requests,
// subscription)`); `gancho plugin build` makes it a component. Types for editors are in index.d.ts.

export { Request, PermanentError, TransientError, percentEncode, formEncode, utf8Length, utf8Decode, charCount } from "./request.js";
export { ConfigError } from "./config.js";
export { log } from "./log.js";
export { isMissed, renderedBody, moneyText } from "./events.js";
export { mergeBy } from "./merge.js";
export { localTime } from "./time.js";
