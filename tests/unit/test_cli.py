"""The `hub` command's pure subcommands (decode, profiles, token), and its list of commands:
the same in ``hub --help``, the module's docstring and the README's table."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import jwt
import pytest

from hub.runtime import cli
from hub.runtime.cli import main

# Blood Pressure Measurement 0x2A35 (GATT Specification Supplement, §3.31): flags 0x1E
# (mmHg, time stamp, pulse rate, user id, status), 123/81/101 mmHg, 2026-11-28 10:00:00,
# pulse 64, user 1, status 0x0004 (irregular pulse).
BP_HEX = "1e7b0051006500ea070b1c0a00004000010400"


def test_decode_prints_coded_measurements(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--uuid", "2A35", "--hex", BP_HEX]) == 0
    out = json.loads(capsys.readouterr().out)
    by_metric = {m["metric"]: m for m in out["measurements"]}
    assert by_metric["systolic_bp"]["value"] == "123"
    assert by_metric["systolic_bp"]["mdc"] == {"code": 150021, "ref": "MDC_PRESS_BLD_NONINV_SYS"}
    assert by_metric["systolic_bp"]["loinc"] == "8480-6"
    assert by_metric["systolic_bp"]["unit"] == "mm[Hg]"
    assert by_metric["systolic_bp"]["time"] == "2026-11-28T10:00:00"
    assert by_metric["pulse_rate"]["value"] == "64"
    assert by_metric["diastolic_bp"]["user_id"] == 1
    assert "irregular-pulse" in by_metric["diastolic_bp"]["annotations"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--uuid", "2A35", "--hex", BP_HEX[:10]], 1, "truncated"),
        (["--uuid", "2A35", "--hex", BP_HEX + "00"], 1, "oversized"),
        (["--uuid", "2A35", "--hex", "xyz"], 2, "not hexadecimal"),
        (["--uuid", "FFFF", "--hex", "00"], 1, "no codec"),
        (["--uuid", "2A19", "--hex", "65"], 1, "above 100"),
    ],
)
def test_decode_refuses_bad_input_with_the_reason(
    capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    assert main(["decode", *args]) == code
    assert message in capsys.readouterr().err


def test_profiles_check_reports_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = Path("device_profiles/profiles/acme-bp-wifi.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\ntransport = "carrier-pigeon"\n')
    assert main(["profiles", "check", str(good)]) == 0
    assert main(["profiles", "check", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.toml: id:" in err
    assert "bad.toml: transport:" in err
    assert "bad.toml: manufacturer: required key is missing" in err


def test_token_is_verifiable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    assert main(["token", "--role", "patient", "--sub", "pat-1"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["iss"]) == ("pat-1", "patient", "hub-dev")


@pytest.mark.parametrize(
    ("period", "reason"),
    [("2026-11-01", "week or a month, not a day"), ("2026-W54", "no ISO week"), ("soon", "period")],
)
def test_reports_run_refuses_a_period_that_is_not_a_week_or_a_month(
    period: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reports", "run", "--period", period]) == 2
    assert reason in capsys.readouterr().err


def _subcommands() -> list[tuple[str, str]]:
    """(name, help) of every subcommand, in the order ``hub --help`` lists them."""
    parser = cli._parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [(choice.dest, choice.help or "") for choice in commands._choices_actions]


def _readme_commands() -> list[tuple[str, str]]:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    section = readme.read_text().partition("### `hub` commands\n")[2].partition("\n#")[0]
    return re.findall(r"^\| `hub ([a-z-]+)` \| (.+?) \|$", section, flags=re.MULTILINE)


def test_the_readme_table_of_commands_is_what_hub_help_lists() -> None:
    assert _readme_commands() == _subcommands()


def test_the_cli_module_docstring_lists_the_same_commands() -> None:
    listed = re.findall(r"^    hub (\S+) +(.+)$", cli.__doc__ or "", flags=re.MULTILINE)
    assert listed == _subcommands()


def test_every_subcommand_has_a_one_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in _subcommands():
        assert text and "\n" not in text, name
    with pytest.raises(SystemExit):
        main(["--help"])
    printed = " ".join(capsys.readouterr().out.split())
    for _, text in _subcommands():
        assert text in printed
