"""pmset engine: parsing ``pmset -g custom`` / ``-g`` in any key order, with suffixes, and the write plan.

Fixtures: RECONSTRUCTED from pmset.m's print rules (../shared/reference/apis/macos/NOTES.md: a header per
profile, `` %-20s <value>`` lines, CFDictionary key order, the "(sleep prevented by a, b)" suffix,
``powermode`` on high-power-mode Macs). LIVE_RECORDED is the shape of the recorded ``pmset -g`` outputs the
notes cite (hackintosh issues), keys and values typed in again, not copied byte for byte.
"""

from __future__ import annotations

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.macos.pmset import (
    Pmset, PmsetError, current_value, ensure, normalize, parse_custom, plan, split_value)

# Reconstructed: a MacBook (two profiles), keys in an order no sort produces, the 20-wide key column,
# a key wider than the column ("Sleep On Power Button" is 21 characters), and a path value.
LAPTOP_CUSTOM = """Battery Power:
 lidwake              1
 standbydelayhigh     86400
 autopoweroff         1
 Sleep On Power Button 1
 hibernatefile        /var/vm/sleepimage
 displaysleep         2
 sleep                1
 highstandbythreshold 50
 lowpowermode         0
 disksleep            10
 womp                 0
AC Power:
 womp                 1
 disksleep            10
 sleep                1 (sleep prevented by sharingd, powerd)
 lowpowermode         0
 displaysleep         10
 hibernatefile        /var/vm/sleepimage
 Sleep On Power Button 1
 autorestart          0
"""

# Reconstructed: an Apple-silicon Mac with high power mode, "powermode" instead of "lowpowermode".
HPM_CUSTOM = """AC Power:
 powermode            2
 sleep                0
 displaysleep         10
"""

# Reconstructed: a Mac mini with a UPS attached (AC and UPS profiles), tabs instead of spaces.
UPS_CUSTOM = "UPS Power:\n haltlevel\t-1\n sleep\t10\n womp\t1\nAC Power:\n sleep\t10\n womp\t1\n"

LIVE_RECORDED = """System-wide power settings:
 SleepDisabled\t\t0
Currently in use:
 standby              0
 Sleep On Power Button 1
 womp                 1
 hibernatefile        /var/vm/sleepimage
 powernap             0
 networkoversleep     0
 disksleep            10
 sleep                1 (sleep prevented by backupd, sharingd, powerd)
 hibernatemode        0
 ttyskeepawake        1
 displaysleep         10 (display sleep prevented by coreaudiod)
 tcpkeepalive         1
"""


def test_custom_is_parsed_per_source_whatever_the_key_order():
    parsed = parse_custom(LAPTOP_CUSTOM)
    assert sorted(k for k in parsed if not k.startswith("_")) == ["ac", "battery"]
    assert parsed["battery"]["displaysleep"] == "2"
    assert parsed["ac"]["displaysleep"] == "10"
    assert parsed["ac"]["Sleep On Power Button"] == "1"
    assert parsed["battery"]["hibernatefile"] == "/var/vm/sleepimage"
    assert parsed["ac"]["womp"] == "1" and parsed["battery"]["womp"] == "0"
    # The same lines in reverse order within each profile parse the same.
    lines = LAPTOP_CUSTOM.splitlines()
    battery_end = lines.index("AC Power:")
    shuffled = [lines[0]] + lines[1:battery_end][::-1] + [lines[battery_end]] + lines[battery_end + 1:][::-1]
    assert parse_custom("\n".join(shuffled)) == parsed


def test_the_sleep_prevented_suffix_is_split_off_and_kept_apart():
    parsed = parse_custom(LAPTOP_CUSTOM)
    assert parsed["ac"]["sleep"] == "1"
    assert parsed["_prevented"] == {"ac": {"sleep": ["sharingd", "powerd"]}}
    assert split_value("10 (display sleep prevented by coreaudiod)") == ("10", ["coreaudiod"])
    assert split_value("0") == ("0", [])
    assert split_value("1 (something else (nested))") == ("1", [])


def test_live_view_has_system_wide_and_in_use_sections():
    parsed = parse_custom(LIVE_RECORDED)
    assert parsed["system"] == {"SleepDisabled": "0"}
    assert parsed["live"]["sleep"] == "1"
    assert parsed["live"]["displaysleep"] == "10"
    assert parsed["_prevented"]["live"] == {"sleep": ["backupd", "sharingd", "powerd"],
                                            "displaysleep": ["coreaudiod"]}


def test_tabs_and_a_ups_profile():
    parsed = parse_custom(UPS_CUSTOM)
    assert parsed["ups"] == {"haltlevel": "-1", "sleep": "10", "womp": "1"}
    assert parsed["ac"] == {"sleep": "10", "womp": "1"}


def test_lowpowermode_is_read_from_powermode_where_the_mac_shows_that():
    ac = parse_custom(HPM_CUSTOM)["ac"]
    assert current_value(ac, "lowpowermode") == "0"      # 2 is high power: not low power
    assert current_value({"powermode": "1"}, "lowpowermode") == "1"
    assert current_value({"lowpowermode": "1"}, "lowpowermode") == "1"
    assert current_value(ac, "womp") is None


@pytest.mark.parametrize(("given", "expected"), [(0, "0"), (True, "1"), (False, "0"), ("10", "10"), (" 010 ", "10"),
                                                 (1.0, "1"), ("/var/vm/sleepimage", "/var/vm/sleepimage"),
                                                 ("yes", "1"), (-1, "-1")])
def test_wanted_values_are_normalized_as_pmset_prints_them(given, expected):
    assert normalize(given) == expected


def test_plan_writes_only_the_differing_keys_in_the_wanted_order():
    parsed = parse_custom(LAPTOP_CUSTOM)
    wanted = {"womp": "1", "sleep": "0", "disksleep": "10", "autorestart": "1"}
    targets, keys, warnings = plan(parsed, wanted, "ac")
    assert (targets, list(keys), warnings) == (["ac"], ["sleep", "autorestart"], [])
    # -a compares every profile: womp differs on battery only, and is written.
    targets, keys, _warnings = plan(parsed, wanted, "all")
    assert targets == ["ac", "battery"]
    assert list(keys) == ["womp", "sleep", "autorestart"]


def test_a_source_the_mac_does_not_have_is_left_alone_with_a_warning():
    targets, keys, warnings = plan(parse_custom(HPM_CUSTOM), {"sleep": "5"}, "battery")
    assert (targets, keys) == ([], {})
    assert "no battery power profile" in warnings[0]


class FakePmset:
    """pmset's behaviour where the engine looks: -g custom, and -a/-c/-b/-u writes."""

    def __init__(self, text):
        self.profiles = {k: v for k, v in parse_custom(text).items() if not k.startswith("_")}
        self.argv = []

    def __call__(self, argv, data=None, **_kwargs):
        self.argv.append(argv)
        if argv[1:] == ["-g", "custom"]:
            names = {"battery": "Battery Power", "ac": "AC Power", "ups": "UPS Power"}
            out = "".join(f"{names[s]}:\n" + "".join(f" {k:<20} {v}\n" for k, v in p.items())
                          for s, p in self.profiles.items())
            return 0, out, ""
        flag = {"-a": None, "-c": "ac", "-b": "battery", "-u": "ups"}[argv[1]]
        for source, profile in self.profiles.items():
            if flag in (None, source):
                for key, value in zip(argv[2::2], argv[3::2]):
                    if key != "unsupported":
                        profile[key] = value
        return 0, "", ""


def test_ensure_writes_once_then_reports_nothing_to_do():
    fake = FakePmset(LAPTOP_CUSTOM)
    first = ensure(Pmset(fake), {"sleep": 0, "womp": True, "autorestart": 1}, "all", check_mode=False)
    assert first["changed"]
    assert first["commands"] == ["pmset -a sleep 0 womp 1 autorestart 1"]
    assert first["diff"]["before"]["battery"] == {"sleep": "1", "womp": "0", "autorestart": None}
    assert first["diff"]["after"]["battery"] == {"sleep": "0", "womp": "1", "autorestart": "1"}
    assert first["current"]["ac"]["sleep"] == "0"
    second = ensure(Pmset(fake), {"sleep": 0, "womp": True, "autorestart": 1}, "all", check_mode=False)
    assert not second["changed"] and second["commands"] == []
    assert "already" in second["summary"]
    assert [a for a in fake.argv if a[1] != "-g"] == [["pmset", "-a", "sleep", "0", "womp", "1", "autorestart", "1"]]


def test_check_mode_predicts_and_writes_nothing():
    fake = FakePmset(LAPTOP_CUSTOM)
    result = ensure(Pmset(fake), {"displaysleep": 5}, "battery", check_mode=True)
    assert result["changed"]
    assert result["commands"] == ["pmset -b displaysleep 5"]
    assert result["diff"] == {"before": {"battery": {"displaysleep": "2"}}, "after": {"battery": {"displaysleep": "5"}}}
    assert all(a[1] == "-g" for a in fake.argv)
    assert "would set" in result["summary"]


def test_a_key_pmset_accepts_but_does_not_show_is_a_warning():
    fake = FakePmset(HPM_CUSTOM)
    result = ensure(Pmset(fake), {"unsupported": 1}, "all", check_mode=False)
    assert result["changed"]
    assert "this Mac may not support it" in result["warnings"][0]


def test_lowpowermode_already_satisfied_by_powermode_is_not_written():
    fake = FakePmset(HPM_CUSTOM)
    result = ensure(Pmset(fake), {"lowpowermode": 0, "sleep": 0}, "ac", check_mode=False)
    assert not result["changed"]


def test_errors_say_what_failed():
    with pytest.raises(PmsetError, match="no power profile"):
        ensure(Pmset(lambda argv, **_kwargs: (0, "garbage\n", "")), {"sleep": 0}, "all", False)
    with pytest.raises(PmsetError, match="must run as root"):
        def refuse(argv, **_kwargs):
            return (0, HPM_CUSTOM, "") if argv[1] == "-g" else (1, "", "pmset: must be run as root")
        ensure(Pmset(refuse), {"sleep": 5}, "all", False)
    with pytest.raises(PmsetError, match="not a pmset setting"):
        ensure(Pmset(FakePmset(HPM_CUSTOM)), {"sleep; rm": 0}, "all", False)
