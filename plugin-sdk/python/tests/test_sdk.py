"""The SDK itself: request builders, the entry's handling of errors and configurations, the helpers."""

import types
from urllib.parse import parse_qs

import pytest
from gancho_sdk import Merged, PermanentError, Request, TransientError, form_encode, is_missed, local_time, log, merge_by, rendered_body, utf8_length
from gancho_sdk.testing import PluginFailure, merge, run, samples, take_logs, validate

MISSED = samples["call.ended.missed.json"]


def plugin_of(transform, validate_config=None):
    module = types.ModuleType("plugin")
    module.transform = transform
    if validate_config is not None:
        module.validate_config = validate_config
    return module


def test_builders_set_the_content_type_and_encode_utf8():
    request = Request.json({"text": "Ñandú 🚀"}).method("PUT").url("https://x.example/a").header("x-v", 2)
    assert request.method_name == "put"
    assert request.headers == [("content-type", "application/json"), ("x-v", "2")]
    assert request.body == '{"text":"Ñandú 🚀"}'.encode()
    assert Request.text("a&b").body == b"a&b"
    with pytest.raises(ValueError, match="unknown HTTP method"):
        Request().method("fetch")
    with pytest.raises(PermanentError, match="cannot encode the body as JSON"):
        Request.json({"x": object()})


def test_a_form_body_encodes_as_browsers_do_and_decodes_back_in_order():
    pairs = [("from", "+54 9 11 5555-1234"), ("note", "a&b=c ñ 🚀"), ("empty", ""), ("from", "again")]
    assert form_encode([("a b", "c+d")]) == "a+b=c%2Bd"
    plugin = plugin_of(lambda event, sub: [Request.form(pairs), Request.form({"skipped": None, "kept": "1"})])
    first, second = run(plugin, MISSED)
    assert first.body_form() == pairs
    assert second.body_form() == [("kept", "1")]
    assert parse_qs(first.body_text())["note"] == ["a&b=c ñ 🚀"]


def test_the_plugin_gets_the_parsed_event_and_configuration():
    seen = {}
    run(plugin_of(lambda event, sub: seen.update(event=event, sub=sub)), MISSED, '{"a": 1}')
    assert seen["event"].type == "call.ended"
    assert seen["event"].data["call"]["caller_name"] == "Ñandú & Cía"
    assert seen["sub"].config == {"a": 1}
    assert seen["sub"].endpoint_url == "https://receiver.example/hook"


def test_errors_keep_their_kind_and_any_other_exception_is_permanent_with_its_message():
    def failing(error):
        def transform(event, sub):
            raise error
        return plugin_of(transform)

    with pytest.raises(PluginFailure) as failure:
        run(failing(TransientError("CRM not ready")), MISSED)
    assert (failure.value.kind, failure.value.message) == ("transient", "CRM not ready")
    with pytest.raises(PluginFailure) as failure:
        run(plugin_of(lambda event, sub: [Request.json(event.data["call"]["nope"])]), MISSED)
    assert failure.value.kind == "permanent"
    assert failure.value.message.startswith("uncaught KeyError: 'nope' (at test_sdk.py:"), failure.value.message
    with pytest.raises(PluginFailure, match="something else than a Request"):
        run(plugin_of(lambda event, sub: ["not a request"]), MISSED)
    with pytest.raises(PluginFailure, match="must be a JSON object"):
        run(plugin_of(lambda event, sub: []), MISSED, "[]")


def test_validate_config_is_optional_and_a_configuration_must_be_an_object():
    assert validate(plugin_of(lambda e, s: []), "{}") is None
    assert validate(plugin_of(lambda e, s: []), "{").field is None
    assert "JSON object" in validate(plugin_of(lambda e, s: []), "3").message

    def boom(config):
        raise RuntimeError("boom")

    assert validate(plugin_of(lambda e, s: [], boom), "{}").message.startswith("RuntimeError: boom")


def test_logs_reach_the_harness_as_level_and_text():
    take_logs()

    def transform(event, sub):
        log.info("mapped", 3, {"a": 1})
        log.warn("careful")
        return []

    run(plugin_of(transform), MISSED)
    assert take_logs() == [("info", 'mapped 3 {"a": 1}'), ("warn", "careful")]


def test_helpers_missed_calls_rendered_templates_utf8_lengths():
    assert is_missed({"id": "c", "status": "missed"})
    assert not is_missed({"id": "c", "status": "busy", "answered_at": "2026-01-01T00:00:00Z"})
    assert is_missed({"id": "c", "status": "busy", "answered_at": None})
    template = {"name": "t", "body": "Hola {{1}}, ¿{{2}}? {{9}}", "parameters": ["{{2}}", "x"]}
    assert rendered_body(template) == "Hola {{2}}, ¿x? {{9}}"
    assert rendered_body({"name": "t"}) is None
    assert utf8_length("ñ🚀a") == 7


def joining(max_requests=100):
    """A plugin that merges requests to the same URL into one whose body is their bodies joined by commas."""

    def merge(requests, subscription):
        return merge_by(
            requests,
            lambda request: request.url_value,
            lambda url, batch: Request.text(",".join(r.body.decode() for r in batch)).url(url),
            max_requests=subscription.config.get("max", max_requests),
        )

    module = plugin_of(lambda event, subscription: [Request.text(event.id)])
    module.merge = merge
    return module


def test_merge_gets_the_requests_as_transform_built_them_and_merge_by_keeps_order_per_key():
    requests = [
        Request.text("1").url("https://a.example/x"),
        Request.text("2"),
        Request.text("3").url("https://a.example/x"),
        Request.text("4").url("https://a.example/x"),
    ]
    merged = merge(joining(), requests, '{"max": 2}')
    assert [(m.carries, m.request.url, m.request.body_text()) for m in merged] == [
        ([0, 2], "https://a.example/x", "1,3"),
        ([1], "https://receiver.example/hook", "2"),
        ([3], "https://a.example/x", "4"),
    ]
    assert merged[1].request.header("content-type") == "text/plain; charset=utf-8", "a lone request goes as it was"


def test_a_merge_that_breaks_the_contract_fails_the_test_and_errors_keep_their_kind():
    requests = [Request.text("a"), Request.text("b")]

    def answering(answer):
        module = plugin_of(lambda event, subscription: [])
        module.merge = lambda given, subscription: answer(given)
        return module

    def alone(i):
        return Merged(requests[i], [i])

    with pytest.raises(AssertionError, match="index 1 is carried by no request"):
        merge(answering(lambda given: [alone(0)]), requests)
    with pytest.raises(AssertionError, match="starts before"):
        merge(answering(lambda given: [alone(1), alone(0)]), requests)
    with pytest.raises(AssertionError, match="not ascending"):
        merge(answering(lambda given: [Merged(requests[0], [1, 0])]), requests)
    with pytest.raises(AssertionError, match="carried twice"):
        merge(answering(lambda given: [alone(0), alone(0), alone(1)]), requests)

    def later(given):
        raise TransientError("later")

    with pytest.raises(PluginFailure) as failure:
        merge(answering(later), requests)
    assert (failure.value.kind, failure.value.message) == ("transient", "later")
    with pytest.raises(PluginFailure, match="something else than a Merged"):
        merge(answering(lambda given: ["nope"]), requests)


def test_running_out_of_memory_is_said_without_a_traceback():
    def transform(event, subscription):
        raise MemoryError()

    with pytest.raises(PluginFailure) as failure:
        run(plugin_of(transform), MISSED)
    assert (failure.value.kind, failure.value.message) == ("permanent", "MemoryError: the plugin ran out of memory")


def test_local_time_follows_daylight_saving_in_the_customers_zone_as_the_host_does():
    assert local_time("2026-03-29T00:59:59Z", "Europe/Madrid").isoformat() == "2026-03-29T01:59:59+01:00"
    madrid = local_time("2026-03-29T01:00:00Z", "Europe/Madrid")
    assert madrid.strftime("%d/%m/%Y %H:%M %Z %z") == "29/03/2026 03:00 CEST +0200"
    assert local_time("2026-09-06T03:59:00Z", "America/Santiago").strftime("%Y-%m-%d %H:%M %Z") == "2026-09-05 23:59 -04"
    assert local_time("2026-09-06T04:00:00Z", "America/Santiago").isoformat() == "2026-09-06T01:00:00-03:00"
    buenos_aires = local_time("2026-11-21T14:03:07.5Z", "America/Argentina/Buenos_Aires")
    assert (buenos_aires.isoformat(), buenos_aires.tzname()) == ("2026-11-21T11:03:07.500000-03:00", "-03")
    with pytest.raises(PermanentError, match=r'^unknown time zone "Europe/Madird"; name an IANA'):
        local_time("2026-03-29T01:00:00Z", "Europe/Madird")
    with pytest.raises(PermanentError, match=r'"yesterday" is not an RFC 3339 instant'):
        local_time("yesterday", "UTC")
