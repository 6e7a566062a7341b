// Merging requests that wait for one destination into fewer, for destinations that take many records in
// one request and ration their requests. Gancho calls a plugin's `merge(requests, subscription)` only when
// requests queue up behind the destination's budget; `mergeBy` keeps the answer's rules: every index
// carried exactly once, ascending within a merged request, merged requests in the order of their first.

/**
 * Merges `requests` whose `key(request)` is equal (a string or number; `null` or `undefined`: never merged)
 * with `combine(key, batch)` into one Request, in batches of at most `maxRequests` requests and
 * `maxBodyBytes` bytes of bodies. A request that nothing merges with goes as it was. Returns
 * `[{request, carries}]`, what `merge` answers.
 */
export function mergeBy(requests, { maxRequests, maxBodyBytes = Infinity }, key, combine) {
  const max = Math.max(1, maxRequests | 0);
  // Batches in the order of their first index; only the latest batch of a key takes more requests.
  const batches = [];
  const latest = new Map();
  requests.forEach((request, index) => {
    const k = key(request);
    const bytes = request.body.length;
    const batch = k === null || k === undefined ? undefined : latest.get(k);
    if (batch && batch.carries.length < max && batch.bytes + bytes <= maxBodyBytes) {
      batch.carries.push(index);
      batch.bytes += bytes;
      return;
    }
    const started = { key: k, carries: [index], bytes };
    batches.push(started);
    if (k !== null && k !== undefined) latest.set(k, started);
  });
  return batches.map(({ key: k, carries }) =>
    carries.length === 1
      ? { request: requests[carries[0]], carries }
      : { request: combine(k, carries.map((index) => requests[index])), carries },
  );
}

/** Why an answer to `given` requests breaks the contract Gancho holds `merge` to; `null` when it keeps it. */
export function contractBroken(answer, given) {
  const carried = new Array(given).fill(false);
  let previousFirst = -1;
  for (let position = 0; position < answer.length; position++) {
    const carries = Array.from(answer[position].carries || []);
    if (carries.length === 0) return `merged request ${position} carries no request`;
    if (carries[0] < previousFirst) return `merged request ${position} starts before the one before it`;
    previousFirst = carries[0];
    for (let i = 0; i < carries.length; i++) {
      const index = carries[i];
      if (i > 0 && index <= carries[i - 1]) return `merged request ${position} carries indexes that are not ascending`;
      if (!Number.isInteger(index) || index < 0 || index >= given) return `index ${index} is beyond the ${given} requests given`;
      if (carried[index]) return `index ${index} is carried twice`;
      carried[index] = true;
    }
  }
  const missing = carried.indexOf(false);
  return missing < 0 ? null : `index ${missing} is carried by no request`;
}
