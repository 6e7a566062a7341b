// Local time in IANA time zones: an event's timestamp as the customer's clocks read it, right across
// daylight-saving changes. Inside the component the host converts it (the `gancho:plugin/time` import,
// WIT 0.1.3, from the time zone database compiled into Gancho: QuickJS has no `Intl`); in native tests,
// node's `Intl` does, with the same answers for date, time and offset.

import { PermanentError } from "./request.js";

// Kept on the global object, as the log sink is: the plugin may reach the SDK by another module path.
const SOURCE = Symbol.for("gancho.timeSource");

/** Where conversions go: set by the component's entry to the host's import. */
export function setTimeSource(toLocal) {
  globalThis[SOURCE] = toLocal;
}

/**
 * `instant` (RFC 3339, an event's `timestamp`) in the IANA time zone `zone`:
 * `{year, month, day, hour, minute, second, nanosecond, offsetSeconds, abbreviation, offset, rfc3339}`,
 * for example `localTime("2026-03-29T01:30:00Z", "Europe/Madrid").rfc3339` is
 * `"2026-03-29T03:30:00+02:00"` and its `abbreviation` `"CEST"`. An unknown zone or an instant that is
 * not RFC 3339 throws a PermanentError naming it.
 */
export function localTime(instant, zone) {
  const source = globalThis[SOURCE] || intlToLocal;
  let local;
  try {
    local = source(String(instant), String(zone));
  } catch (error) {
    throw new PermanentError(typeof error === "string" ? error : String(error?.payload ?? error?.message ?? error));
  }
  if (local && local.tag === "err") throw new PermanentError(String(local.val));
  if (local && local.tag === "ok") local = local.val;
  const fields = { ...local };
  const two = (n) => String(n).padStart(2, "0");
  const minutes = Math.abs(fields.offsetSeconds) / 60;
  fields.offset = `${fields.offsetSeconds < 0 ? "-" : "+"}${two(Math.floor(minutes / 60))}:${two(minutes % 60)}`;
  fields.rfc3339 = `${fields.year}-${two(fields.month)}-${two(fields.day)}T${two(fields.hour)}:${two(fields.minute)}:${two(fields.second)}${fields.offset}`;
  return fields;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** The native test harness's conversion, with node's `Intl` (the host's messages, word for word). */
function intlToLocal(instant, zone) {
  const text = instant.trim();
  const millis = text.length <= 64 && RFC3339.test(text) ? Date.parse(text.replace(" ", "T")) : NaN;
  if (Number.isNaN(millis)) {
    throw `${JSON.stringify(text)} is not an RFC 3339 instant (such as "2026-03-29T01:30:00Z")`;
  }
  const name = zone.trim();
  let format;
  try {
    if (name.length > 64) throw new RangeError(name);
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: name, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric", timeZoneName: "longOffset",
    });
  } catch {
    throw `unknown time zone ${JSON.stringify(name)}; name an IANA time zone such as "America/Argentina/Buenos_Aires" or "Europe/Madrid"`;
  }
  const date = new Date(millis);
  const parts = Object.fromEntries(format.formatToParts(date).map((part) => [part.type, part.value]));
  const [, sign, hours, minutes] = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(parts.timeZoneName) || [];
  const offsetSeconds = sign ? (sign === "-" ? -1 : 1) * (Number(hours) * 3600 + Number(minutes) * 60) : 0;
  const fraction = (/\.(\d+)/.exec(text) || [, ""])[1];
  return {
    year: Number(parts.year), month: Number(parts.month), day: Number(parts.day),
    hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second),
    nanosecond: Number(fraction.padEnd(9, "0")),
    offsetSeconds, abbreviation: abbreviation(date, name, offsetSeconds),
  };
}

/**
 * The tz database's abbreviation, as far as `Intl` knows it: a letter name (`CEST`, `EST`) where one of
 * its English locales has one, else the offset as the database writes it (`-03`, `+0530`). Zones whose
 * letter name only other locales know (`IST`, `AEST`) differ from the host here.
 */
function abbreviation(date, zone, offsetSeconds) {
  for (const locale of ["en-US", "en-GB"]) {
    const named = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: "short" })
      .formatToParts(date).find((part) => part.type === "timeZoneName").value;
    if (/^[A-Z]{2,5}$/.test(named)) return named;
  }
  const minutes = Math.abs(offsetSeconds) / 60;
  const two = (n) => String(n).padStart(2, "0");
  const sign = offsetSeconds < 0 ? "-" : "+";
  return `${sign}${two(Math.floor(minutes / 60))}${minutes % 60 ? two(minutes % 60) : ""}`;
}
