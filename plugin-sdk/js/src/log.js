// Logging through the host: Gancho tags every line with the tenant, plugin and event. Inside the component
// the lines go to the `gancho:plugin/log` import; in native tests, to the test harness.

const LEVELS = ["trace", "debug", "info", "warn", "error"];
// Kept on the global object: a plugin may reach the SDK through another path (a package link) than the
// component's entry, which makes it another module instance.
const SINK = Symbol.for("gancho.logSink");

/** Where lines go: set by the component's entry (the host import) or by the test harness. */
export function setLogSink(write) {
  globalThis[SINK] = write;
}

function write(level, parts) {
  const message = parts.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" ");
  const sink = globalThis[SINK];
  if (sink) sink(level, message);
}

/** `log.info("mapped", n, "messages")`: parts that are not strings are written as JSON. */
export const log = Object.fromEntries(LEVELS.map((level) => [level, (...parts) => write(level, parts)]));
