// Requests a plugin asks Gancho to deliver, with builders for the bodies destinations expect: JSON,
// form-urlencoded and plain text. Plain JavaScript that runs the same in node (tests) and in QuickJS (the
// component), so it uses no TextEncoder, Buffer or URLSearchParams.

const METHODS = ["get", "head", "post", "put", "patch", "delete"];

/** One HTTP request for Gancho to sign and deliver. Build it with `Request.json`, `.form` or `.text`. */
export class Request {
  constructor() {
    /** `"post"` unless `.method(…)` says otherwise. */
    this.methodName = "post";
    /** Absolute URL; `null` sends to the subscription's endpoint URL. */
    this.urlValue = null;
    /** Header names and values, in order. */
    this.headers = [];
    /** The body, as bytes. */
    this.body = new Uint8Array(0);
  }

  /** A POST with `value` as JSON and `content-type: application/json`. */
  static json(value) {
    let text;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw new PermanentErrorForJson(error);
    }
    return new Request().header("content-type", "application/json").bodyText(text);
  }

  /** A POST with `pairs` (an object or a list of `[name, value]`) form-urlencoded, in order. */
  static form(pairs) {
    const list = Array.isArray(pairs) ? pairs : Object.entries(pairs);
    const body = formEncode(list.filter(([, value]) => value !== undefined && value !== null));
    return new Request().header("content-type", "application/x-www-form-urlencoded").bodyText(body);
  }

  /** A POST with `text` and `content-type: text/plain; charset=utf-8`. */
  static text(text) {
    return new Request().header("content-type", "text/plain; charset=utf-8").bodyText(String(text));
  }

  /** Sets the method: `"get"`, `"head"`, `"post"`, `"put"`, `"patch"` or `"delete"` (any case). */
  method(name) {
    const method = String(name).toLowerCase();
    if (!METHODS.includes(method)) {
      throw new Error(`unknown HTTP method ${JSON.stringify(name)}; use one of ${METHODS.join(", ")}`);
    }
    this.methodName = method;
    return this;
  }

  /** Sends to `url` (absolute `http(s)`) instead of the subscription's endpoint. */
  url(url) {
    this.urlValue = String(url);
    return this;
  }

  /** Adds a header (Gancho adds its signature headers itself). */
  header(name, value) {
    this.headers.push([String(name), String(value)]);
    return this;
  }

  /** Sets the body to `text`, UTF-8 encoded. */
  bodyText(text) {
    this.body = utf8Encode(text);
    return this;
  }

  /** Sets the body to raw bytes (a `Uint8Array` or an array of numbers). */
  bodyBytes(bytes) {
    this.body = Uint8Array.from(bytes);
    return this;
  }
}

/** An error that retrying will not fix (bad data, bad configuration). Say what to change. */
export class PermanentError extends Error {
  constructor(message) {
    super(message);
    this.name = "PermanentError";
    this.kind = "permanent";
  }
}

/** An error that may go away later: Gancho retries the event on its delivery schedule. */
export class TransientError extends Error {
  constructor(message) {
    super(message);
    this.name = "TransientError";
    this.kind = "transient";
  }
}

class PermanentErrorForJson extends PermanentError {
  constructor(error) {
    super(`cannot encode the body as JSON: ${error && error.message ? error.message : error}`);
  }
}

/** Percent-encodes `value` for a URL path segment or query value (RFC 3986 unreserved characters kept). */
export function percentEncode(value) {
  return encodeURIComponent(String(value)).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/** `application/x-www-form-urlencoded` text of `[name, value]` pairs, spaces as `+`. */
export function formEncode(pairs) {
  const encode = (text) => percentEncode(text).replace(/%20/g, "+");
  return pairs.map(([name, value]) => `${encode(name)}=${encode(value)}`).join("&");
}

/** UTF-8 bytes of `text`; lone surrogates become U+FFFD, as TextEncoder does. */
export function utf8Encode(text) {
  // encodeURIComponent is native code in QuickJS as in node: much faster than encoding character by character.
  let binary;
  try {
    binary = unescape(encodeURIComponent(text));
  } catch {
    return utf8EncodeEachCharacter(String(text)); // a lone surrogate
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function utf8EncodeEachCharacter(text) {
  const out = [];
  for (const char of text) {
    let code = char.codePointAt(0);
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    if (code < 0x80) out.push(code);
    else if (code < 0x800) out.push(0xc0 | (code >> 6), 0x80 | (code & 63));
    else if (code < 0x10000) out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
    else out.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
  }
  return Uint8Array.from(out);
}

/** The number of UTF-8 bytes of `text`, without encoding it (a lone surrogate counts as U+FFFD, 3). */
export function utf8Length(text) {
  const s = String(text);
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: 2 UTF-16 units, 4 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** The number of characters (code points) of `text`, as Rust's `chars().count()` and Python's `len`. */
export function charCount(text) {
  const s = String(text);
  let count = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count;
}

/** Text of UTF-8 `bytes` (for tests and logs). */
export function utf8Decode(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const [len, first] = b < 0x80 ? [1, b] : b < 0xe0 ? [2, b & 31] : b < 0xf0 ? [3, b & 15] : [4, b & 7];
    let code = first;
    for (let k = 1; k < len; k++) code = (code << 6) | (bytes[i + k] & 63);
    text += String.fromCodePoint(code);
    i += len;
  }
  return text;
}
