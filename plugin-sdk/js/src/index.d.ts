// Types of @gancho/plugin-sdk for editors and TypeScript checking (`// @ts-check` in plugin.js, or a
// TypeScript build that emits plugin.js). The event catalog's fields are those of docs/EVENTS.md.

/** One event: `type` is `call.ended`, `chat.closed`…; `data` is the parsed `data` object. */
export interface Event<D = EventData> {
  id: string;
  type: string;
  tenant: string;
  /** RFC 3339; also what the plugin's clocks read. */
  timestamp: string;
  data: D;
}

/** The subscription the plugin runs for; `config` is the customer's configuration, parsed. */
export interface Subscription<C = Record<string, unknown>> {
  id: string;
  endpointUrl: string;
  config: C;
}

export type EventData = CallData | ChatData | QuickReplyData | Record<string, unknown>;

export interface Agent { id: string; name?: string | null; email?: string | null }
export interface Person { id: string; name?: string | null }
/** An amount: a decimal string, never a float. */
export interface Money { amount: string; currency: string }
export interface Contact {
  id: string;
  name?: string | null;
  phone?: string | null;
  email?: string | null;
  identification?: string | null;
  custom_fields?: Record<string, unknown>;
}
export interface Message {
  from: "contact" | "agent" | "bot" | "system" | string;
  type: "text" | "image" | "audio" | "video" | "file" | "location" | "sticker" | "template" | string;
  id?: string | null;
  at?: string | null;
  author?: string | null;
  text?: string | null;
  media_url?: string | null;
}
export interface Chat {
  id: string;
  channel?: string | null;
  department?: string | null;
  opened_at?: string | null;
  closed_at?: string | null;
  viewer_url?: string | null;
  agent?: Agent | null;
  closed_by?: "agent" | "contact" | "system" | "timeout" | string | null;
  tags?: string[];
  messages?: Message[];
}
/** `chat.closed`, `chat.exported` (with `exported_by`). */
export interface ChatData { chat: Chat; contact: Contact; exported_by?: Person | null }
export interface Template { name: string; language?: string | null; body?: string | null; parameters?: string[] }
export interface Button { text: string; payload?: string | null }
/** `template.quick_reply`. */
export interface QuickReplyData {
  contact: Contact;
  template: Template;
  button: Button;
  message_id?: string | null;
  clicked_at?: string | null;
}
export interface Call {
  id: string;
  direction?: "inbound" | "outbound" | "internal" | string | null;
  from?: string | null;
  to?: string | null;
  caller_name?: string | null;
  extension?: string | null;
  queue?: string | null;
  hangup_by?: string | null;
  recording_url?: string | null;
  agent?: Agent | null;
  started_at?: string | null;
  answered_at?: string | null;
  ended_at?: string | null;
  duration_s?: number | null;
  billable_s?: number | null;
  cost?: Money | null;
  status?: "ringing" | "answered" | "missed" | "busy" | "failed" | "voicemail" | string | null;
}
/** `call.started`, `call.answered`, `call.ended`, `call.recording_ready`. */
export interface CallData { call: Call }

export type Method = "get" | "head" | "post" | "put" | "patch" | "delete";

/** One HTTP request for Gancho to sign and deliver. */
export class Request {
  static json(value: unknown): Request;
  static form(pairs: Record<string, unknown> | Array<[string, unknown]>): Request;
  static text(text: string): Request;
  method(name: Method | Uppercase<Method>): Request;
  url(url: string): Request;
  header(name: string, value: string | number): Request;
  bodyText(text: string): Request;
  bodyBytes(bytes: Uint8Array | number[]): Request;
  readonly methodName: Method;
  readonly urlValue: string | null;
  readonly headers: Array<[string, string]>;
  readonly body: Uint8Array;
}

/** Retrying will not help: bad data or configuration. */
export class PermanentError extends Error { readonly kind: "permanent" }
/** May work later: Gancho retries on its delivery schedule. */
export class TransientError extends Error { readonly kind: "transient" }
/** A configuration refused by `validateConfig`: `field` is its path, or null for all of it. */
export class ConfigError extends Error {
  constructor(field: string | null, message: string);
  readonly field: string | null;
}

type LogFn = (...parts: unknown[]) => void;
export const log: { trace: LogFn; debug: LogFn; info: LogFn; warn: LogFn; error: LogFn };

export function isMissed(call: Call): boolean;
export function renderedBody(template: Template): string | null;
export function moneyText(money: Money): string;
export function percentEncode(value: unknown): string;
export function formEncode(pairs: Array<[string, unknown]>): string;
export function utf8Length(text: string): number;
/** UTF-8 bytes (a request's body) as text. */
export function utf8Decode(bytes: Uint8Array): string;
/** Characters (code points), as Rust's `chars().count()` and Python's `len`. */
export function charCount(text: string): number;

/** What a plugin module exports. */
export interface Plugin<C = Record<string, unknown>> {
  transform(event: Event, subscription: Subscription<C>): Request[] | Request | null | undefined;
  validateConfig?(config: Record<string, unknown>): void;
  /**
   * Merges requests waiting for one destination (made by `transform` for one subscription, in delivery
   * order, their URLs filled in) into fewer. Optional; see `mergeBy`.
   */
  merge?(requests: Request[], subscription: Subscription<C>): Merged[];
}

/** One request to deliver in place of the requests it carries (indexes, ascending). */
export interface Merged { request: Request; carries: number[] }

/** What one merged request may carry: a batch endpoint's record limit, and a payload limit. */
export interface BatchLimits { maxRequests: number; maxBodyBytes?: number }

/**
 * Merges requests whose `key` is equal (`null`/`undefined`: never merged) with `combine` into one, in
 * batches within `limits`; a request nothing merges with goes as it was.
 */
export function mergeBy<K>(
  requests: Request[],
  limits: BatchLimits,
  key: (request: Request) => K | null | undefined,
  combine: (key: K, batch: Request[]) => Request,
): Merged[];

/** An instant as the clocks of one IANA time zone read it (from `localTime`). */
export interface LocalTime {
  year: number;
  /** 1 to 12. */
  month: number;
  day: number;
  /** 0 to 23. */
  hour: number;
  minute: number;
  second: number;
  nanosecond: number;
  /** Offset from UTC in seconds east (`-10800` is UTC-3). */
  offsetSeconds: number;
  /** The time zone database's abbreviation: `CET`, `CEST`, `-03`. */
  abbreviation: string;
  /** `-03:00`. */
  offset: string;
  /** RFC 3339 in the zone, to the second: `2026-03-29T03:30:00+02:00`. */
  rfc3339: string;
}

/**
 * `instant` (RFC 3339, an event's `timestamp`) in the IANA time zone `zone`, right across daylight-saving
 * changes; converted by Gancho (QuickJS has no `Intl`), by node's `Intl` in native tests. Throws a
 * PermanentError naming an unknown zone or a bad instant.
 */
export function localTime(instant: string, zone: string): LocalTime;
