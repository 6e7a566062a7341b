"""The Slack plugin natively, on the SDK's sample events: what each message says, and that every one fits
Slack's limits. The same mapping as plugins/slack; the workspace's tests compare the two through the host."""

import re
from pathlib import Path

import pytest
from gancho_sdk.testing import PluginFailure, long_chat_closed, run, samples, validate

import plugin

ALL_ON = '{"notify_answered_calls": true, "notify_recordings": true}'


def message(event: str, config: str = "{}") -> dict:
    """The one message ``event`` maps to, checked against Slack's limits."""
    requests = run(plugin, event, config)
    assert len(requests) == 1, "one message per event"
    [request] = requests
    assert request.method == "post"
    assert request.url is None, "goes to the webhook URL, the subscription's endpoint"
    assert request.headers == [("content-type", "application/json")]
    body = request.body_json()
    assert_fits_slack(body)
    return body


def assert_fits_slack(body: dict) -> None:
    assert 1 <= len(body["text"]) <= 3000
    assert 1 <= len(body["blocks"]) <= 50
    total = 0
    for block in body["blocks"]:
        texts = []
        if block["type"] == "header":
            texts.append(block["text"]["text"])
        if block["type"] == "section" and "text" in block:
            texts.append(block["text"]["text"])
        texts += [f["text"] for f in block.get("fields", [])]
        for element in block.get("elements", []):
            texts += [element["text"]["text"] if isinstance(element["text"], dict) else element["text"], element.get("url", "")]
        for text in texts:
            assert len(text) <= 3000
            assert not re.search(r"&(?!amp;|lt;|gt;)", text), f"unescaped & in {text}"
            total += len(text.encode())
    assert total <= 10_000, f"{total} bytes of block text"


def test_a_missed_call_shows_caller_called_queue_and_time_escaped():
    assert message(samples["call.ended.missed.json"]) == {
        "text": "📞 Missed call from Ñandú &amp; Cía",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "📞 Missed call", "emoji": True}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Caller*\nÑandú &amp; Cía\n+5491155551234"},
                    {"type": "mrkdwn", "text": "*Called*\n+541140001234 · ext. 201"},
                    {"type": "mrkdwn", "text": "*Queue*\nSoporte"},
                    {"type": "mrkdwn", "text": "*When*\n2026-11-21 14:00 UTC"},
                ],
            },
        ],
    }


def test_answered_calls_are_opt_in_and_carry_duration_cost_and_recording():
    assert run(plugin, samples["call.ended.json"]) == []
    body = message(samples["call.ended.json"], '{"notify_answered_calls": true, "channel": "#llamadas"}')
    assert body["text"] == "✅ Answered call from Juan Gómez"
    assert body["channel"] == "#llamadas"
    assert body["blocks"][1]["fields"][-2:] == [
        {"type": "mrkdwn", "text": "*Duration*\n2 min 14 s"},
        {"type": "mrkdwn", "text": "*Cost*\n12.50 ARS"},
    ]
    assert body["blocks"][2]["elements"][0]["url"] == "https://pbx.example/rec/cl_9f3a.mp3"


def test_a_closed_chat_has_its_summary_transcript_and_button():
    body = message(samples["chat.closed.json"])
    assert body["text"] == "💬 Chat closed: Juan Gómez"
    assert body["blocks"][2]["type"] == "divider"
    assert body["blocks"][3]["text"]["text"].startswith("*Juan Gómez* (13:40): Hola, ¿tienen envíos a Medellín? 🚚\n")
    assert body["blocks"][-1]["elements"][0]["text"]["text"] == "Open conversation"


def test_a_400_message_chat_is_cut_with_its_button_kept():
    body = message(long_chat_closed(400))
    assert body["blocks"][-2]["type"] == "context"
    assert re.match(r"…and \d+ more messages — open the conversation", body["blocks"][-2]["elements"][0]["text"])
    assert body["blocks"][-1]["type"] == "actions"


def test_a_quick_reply_says_who_clicked_what_with_the_template_text():
    body = message(samples["template.quick_reply.json"])
    assert re.search(r"clicked \*«.+»\* on `confirmacion_cita`\n>", body["blocks"][0]["text"]["text"])


@pytest.mark.parametrize("name", sorted(samples))
@pytest.mark.parametrize("config", ["{}", ALL_ON, '{"include_transcript": false}'])
def test_every_sample_fits_slacks_limits(name, config):
    for request in run(plugin, samples[name], config):
        assert_fits_slack(request.body_json())


def test_other_events_and_switched_off_ones_send_nothing():
    assert run(plugin, samples["call.started.json"]) == []
    assert run(plugin, samples["invoice.paid.json"]) == []
    assert run(plugin, samples["chat.closed.json"], '{"notify_closed_chats": false}') == []


@pytest.mark.parametrize(
    "config,field",
    [('{"icon_emoji": "rocket"}', "icon_emoji"), ('{"notify_missed_call": true}', "notify_missed_call"), ('{"notify_answered_calls": "yes"}', "notify_answered_calls")],
)
def test_a_bad_configuration_is_refused_naming_the_field(config, field):
    assert validate(plugin, config).field == field
    with pytest.raises(PluginFailure) as failure:
        run(plugin, samples["call.ended.missed.json"], config)
    assert failure.value.kind == "permanent" and field in failure.value.message


def test_the_example_configuration_is_accepted():
    assert validate(plugin, (Path(__file__).parent.parent / "config.example.json").read_text()) is None
