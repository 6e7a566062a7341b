"""The CRM form plugin natively, on the SDK's sample events."""

from pathlib import Path

import pytest
from gancho_sdk.testing import PluginFailure, run, samples, take_logs, validate

import plugin

CONFIG = (Path(__file__).parent.parent / "config.example.json").read_text()


def test_a_missed_call_becomes_a_lead_form_encoded():
    [request] = run(plugin, samples["call.ended.missed.json"], CONFIG)
    assert request.header("content-type") == "application/x-www-form-urlencoded"
    assert request.body_form() == [
        ("action", "create_lead"),
        ("list_id", "L-callbacks"),
        ("phone", "+5491155551234"),
        ("name", "Ñandú & Cía"),
        ("owner", "lucia@acme.example"),
        ("source", "whatsapp-line"),
        ("note", "Missed call at 2026-11-21T14:00:00Z (Soporte)"),
    ]
    assert "name=%C3%91and%C3%BA+%26+C%C3%ADa" in request.body_text()


def test_a_closed_chat_becomes_a_note_with_the_texts_and_is_logged():
    take_logs()
    [request] = run(plugin, samples["chat.closed.json"], CONFIG)
    form = dict(request.body_form())
    assert form["action"] == "add_note"
    assert form["note"].startswith("Chat ")
    assert "Juan Gómez: Hola, ¿tienen envíos a Medellín? 🚚" in form["note"]
    assert take_logs()[0][1].endswith("messages have text")


@pytest.mark.parametrize("name", ["call.ended.json", "call.started.json", "template.quick_reply.json", "invoice.paid.json"])
def test_answered_calls_and_other_events_send_nothing(name):
    assert run(plugin, samples[name], CONFIG) == []


def test_the_configuration_needs_list_id_and_nothing_unknown():
    assert validate(plugin, CONFIG) is None
    assert validate(plugin, "{}").field == "list_id"
    assert validate(plugin, '{"list_id": "L1", "colour": "red"}').field == "colour"
    assert validate(plugin, "[1]").field is None
    with pytest.raises(PluginFailure) as failure:
        run(plugin, samples["call.ended.missed.json"], "{}")
    assert failure.value.kind == "permanent" and "list_id" in failure.value.message
