"""Merging requests that wait for one destination into fewer, for destinations that take many records in one
request and ration their requests. Gancho calls a plugin's ``merge(requests, subscription)`` only when
requests queue up behind the destination's budget; ``merge_by`` keeps the answer's rules: every index carried
exactly once, ascending within a merged request, merged requests in the order of their first index."""

from dataclasses import dataclass
from typing import Callable, Hashable, Optional

from .request import Request


@dataclass
class Merged:
    """One request to deliver in place of the requests it carries (indexes into those given, ascending)."""

    request: Request
    carries: list[int]


def merge_by(
    requests: list[Request],
    key: Callable[[Request], Optional[Hashable]],
    combine: Callable[[Hashable, list[Request]], Request],
    max_requests: int,
    max_body_bytes: Optional[int] = None,
) -> list[Merged]:
    """Merges requests whose ``key`` is equal (``None``: never merged) with ``combine(key, batch)`` into one,
    in batches of at most ``max_requests`` requests and ``max_body_bytes`` bytes of bodies. A request that
    nothing merges with goes as it was."""
    most = max(1, max_requests)
    # Batches in the order of their first index; only the latest batch of a key takes more requests.
    batches: list[tuple[Optional[Hashable], list[int], list[int]]] = []
    latest: dict[Hashable, int] = {}
    for index, request in enumerate(requests):
        k = key(request)
        size = len(request.body)
        at = latest.get(k) if k is not None else None
        if at is not None:
            _, carries, used = batches[at]
            if len(carries) < most and (max_body_bytes is None or used[0] + size <= max_body_bytes):
                carries.append(index)
                used[0] += size
                continue
        batches.append((k, [index], [size]))
        if k is not None:
            latest[k] = len(batches) - 1
    merged = []
    for k, carries, _ in batches:
        if len(carries) == 1:
            merged.append(Merged(requests[carries[0]], carries))
        else:
            merged.append(Merged(combine(k, [requests[i] for i in carries]), carries))
    return merged


def contract_broken(answer: list, given: int) -> Optional[str]:
    """Why an answer to ``given`` requests breaks the contract Gancho holds ``merge`` to; None if it keeps it."""
    carried = [False] * given
    previous_first = -1
    for position, merged in enumerate(answer):
        carries = list(merged.carries)
        if not carries:
            return f"merged request {position} carries no request"
        if carries[0] < previous_first:
            return f"merged request {position} starts before the one before it"
        previous_first = carries[0]
        for i, index in enumerate(carries):
            if i > 0 and index <= carries[i - 1]:
                return f"merged request {position} carries indexes that are not ascending"
            if not isinstance(index, int) or not 0 <= index < given:
                return f"index {index} is beyond the {given} requests given"
            if carried[index]:
                return f"index {index} is carried twice"
            carried[index] = True
    missing = next((i for i, seen in enumerate(carried) if not seen), None)
    return None if missing is None else f"index {missing} is carried by no request"
