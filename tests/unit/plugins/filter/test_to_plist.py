"""The to_plist filter: valid XML plists that plistlib (and so launchd's parser) reads back unchanged."""

from __future__ import annotations

import plistlib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sovereign.cloud.plugins.filter.to_plist import FilterModule, to_plist


def test_a_launch_agent_round_trips_with_escaped_strings():
    job = {"Label": "cloud.sovereign.x", "ProgramArguments": ["/usr/bin/python3", "a & b <c>", "--dest", "/Volumes/P/Mom's"],
           "StartCalendarInterval": {"Weekday": 0, "Hour": 3}, "RunAtLoad": True, "Nice": 10}
    text = to_plist(job)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "a &amp; b &lt;c&gt;" in text
    assert plistlib.loads(text.encode()) == job


def test_the_same_data_gives_the_same_file():
    assert to_plist({"b": 1, "a": [True, 1.5]}) == to_plist({"a": [True, 1.5], "b": 1})


@pytest.mark.parametrize("data, words", [
    ({"Label": None}, "null"),
    (["not", "a", "mapping"], "mapping"),
    ({"Label": {1: "x"}}, "not a string"),
    ({"Label": object()}, "cannot hold"),
])
def test_what_a_plist_cannot_hold_is_an_error_naming_the_place(data, words):
    with pytest.raises(AnsibleFilterError, match=words):
        to_plist(data)


def test_the_filter_is_registered():
    assert FilterModule().filters()["to_plist"] is to_plist
