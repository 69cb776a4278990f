"""The device catalog: shipped profiles load, and every kind of bad profile is reported with
its file and field, all problems at once."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from device_profiles import catalog as catalog_module
from device_profiles.catalog import (
    QUIRKS,
    Catalog,
    DeviceProfile,
    MetricLimits,
    Quirks,
    load_catalog,
    load_profile_file,
    load_profile_text,
)
from device_profiles.errors import ProfileError
from device_profiles.uuids import CHARACTERISTICS
from device_profiles.vocabulary import METRICS

CATALOG_DIR = Path(catalog_module.__file__).with_name(catalog_module.PROFILES_DIRECTORY)
SHIPPED_FILES = sorted(CATALOG_DIR.glob("*.toml"))

# Profile id -> (service, characteristics) each generic BLE profile must declare.
GENERIC_BLE = {
    "generic-ble-glucose-meter": (0x1808, {0x2A18, 0x2A34, 0x2A52}),
    "generic-ble-blood-pressure": (0x1810, {0x2A35, 0x2A36}),
    "generic-ble-weight-scale": (0x181D, {0x2A9D, 0x2A9E}),
    "generic-ble-body-composition": (0x181B, {0x2A9C}),
    "generic-ble-thermometer": (0x1809, {0x2A1C, 0x2A1E}),
    "generic-ble-pulse-oximeter": (0x1822, {0x2A5E, 0x2A5F}),
    "generic-ble-cgm": (0x181F, {0x2AA7, 0x2AAA}),
    "generic-ble-heart-rate": (0x180D, {0x2A37}),
}
MQTT_PROFILES = {"acme-bp-wifi", "glucocloud-meter", "nimbus-scale", "hub-canonical"}

BLE_HEAD = """
id = "omron-x"
manufacturer = "Example"
model = "X"
transport = "ble-gatt"
"""
BLE_SECTION = """
[ble]
services = ["1810"]
characteristics = ["2A35"]
"""
MQTT_HEAD = """
id = "vendor-y"
manufacturer = "Example"
model = "Y"
transport = "mqtt-json"
"""
MQTT_SECTION = """
[json]
time = "ts"
time_format = "epoch_s"

[[json.metrics]]
metric = "glucose"
value = "g"
unit = "mg/dL"
"""


def problems_of(text: str, file_name: str = "omron-x.toml") -> list[tuple[str, str, str]]:
    with pytest.raises(ProfileError) as caught:
        load_profile_text(text, file_name)
    return caught.value.problems


def fields_of(text: str) -> set[str]:
    return {field for _, field, _ in problems_of(text)}


# --- shipped profiles -----------------------------------------------------------------------


def test_the_packaged_catalog_loads_every_shipped_profile() -> None:
    catalog = load_catalog()

    assert set(catalog) == set(GENERIC_BLE) | MQTT_PROFILES
    assert len(SHIPPED_FILES) == len(catalog)
    assert {p.id for p in catalog.by_transport("ble-gatt")} == set(GENERIC_BLE)
    assert {p.id for p in catalog.by_transport("mqtt-json")} == MQTT_PROFILES


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda path: path.name)
def test_each_shipped_file_loads_on_its_own_and_is_named_for_its_id(path: Path) -> None:
    profile = load_profile_file(path)

    assert profile.source == path.name
    assert path.stem == profile.id
    assert (profile.ble is None) != (profile.json_mapping is None)


@pytest.mark.parametrize(("profile_id", "expected"), GENERIC_BLE.items())
def test_generic_ble_profiles_declare_their_standard_service(
    profile_id: str, expected: tuple[int, set[int]]
) -> None:
    service, characteristics = expected
    profile = load_catalog()[profile_id]

    assert profile.ble is not None
    assert profile.ble.services == (service,)
    assert characteristics <= set(profile.ble.characteristics)
    assert set(profile.ble.characteristics) <= set(CHARACTERISTICS)
    assert profile.limits, "every generic profile states plausibility limits"


def test_shipped_limits_are_parsed_exactly() -> None:
    limits = load_catalog()["generic-ble-blood-pressure"].limits_for("systolic_bp")

    assert limits == MetricLimits(
        "systolic_bp", Decimal(50), Decimal(280), Decimal(80), Decimal(180)
    )
    assert load_catalog()["generic-ble-heart-rate"].limits_for("spo2") is None


def test_profiles_are_frozen_and_hashable() -> None:
    profile = load_catalog()["acme-bp-wifi"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.id = "other"  # type: ignore[misc]
    assert hash(profile) == hash(load_catalog()["acme-bp-wifi"])


def test_the_quirk_set_is_closed_and_documented() -> None:
    assert {field.name for field in dataclasses.fields(Quirks)} == set(QUIRKS)
    assert all(meaning for _, meaning in QUIRKS.values())
    for name in QUIRKS:
        assert name in (catalog_module.__doc__ or ""), f"{name} missing from the schema doc"


# --- the catalog object ---------------------------------------------------------------------


def test_catalog_get_and_lookup() -> None:
    catalog = load_catalog()

    assert catalog.get("no-such-device") is None
    assert catalog.get("nimbus-scale") is catalog["nimbus-scale"]
    assert "hub-canonical" in catalog
    with pytest.raises(KeyError, match="no-such-device"):
        catalog["no-such-device"]
    with pytest.raises(ValueError, match="unknown transport"):
        catalog.by_transport("zigbee")


def test_metric_limits_classify_canonical_values() -> None:
    limits = MetricLimits("glucose", Decimal(20), Decimal(600), Decimal(54), Decimal(250))

    assert limits.is_plausible(Decimal(20))
    assert limits.is_plausible(Decimal(600))
    assert not limits.is_plausible(Decimal("600.1"))
    assert limits.is_critical(Decimal(53))
    assert limits.is_critical(Decimal(251))
    assert not limits.is_critical(Decimal(54))


def test_a_side_the_profile_leaves_unset_falls_back_to_the_vocabulary() -> None:
    glucose = METRICS["glucose"]  # vocabulary: critical below 54, above 400 mg/dL
    only_high = MetricLimits("glucose", Decimal(20), Decimal(600), critical_high=Decimal(250))

    assert only_high.critical_flag(Decimal(300)) == "critical-high"
    assert only_high.critical_flag(Decimal(50)) is None
    assert only_high.critical_flag(Decimal(50), fallback=glucose) == "critical-low"
    assert only_high.critical_flag(Decimal(300), fallback=glucose) == "critical-high"


def test_duplicate_ids_in_a_directory_are_reported(tmp_path: Path) -> None:
    text = BLE_HEAD + BLE_SECTION
    (tmp_path / "a.toml").write_text(text, encoding="utf-8")
    (tmp_path / "b.toml").write_text(text, encoding="utf-8")

    with pytest.raises(ProfileError) as caught:
        load_catalog(tmp_path)

    assert caught.value.problems == [("b.toml", "id", "duplicate id 'omron-x', also in a.toml")]


def test_a_directory_reports_the_problems_of_every_file(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(BLE_HEAD + BLE_SECTION, encoding="utf-8")
    (tmp_path / "bad-one.toml").write_text(BLE_HEAD, encoding="utf-8")
    (tmp_path / "bad-two.toml").write_text(MQTT_HEAD, encoding="utf-8")
    (tmp_path / ".editor-backup.toml").write_text("not toml at all [", encoding="utf-8")
    (tmp_path / "README.md").write_text("ignored", encoding="utf-8")

    with pytest.raises(ProfileError) as caught:
        load_catalog(tmp_path)

    assert [(file, field) for file, field, _ in caught.value.problems] == [
        ("bad-one.toml", "ble"),
        ("bad-two.toml", "json"),
    ]


def test_catalog_refuses_duplicates_built_in_code() -> None:
    profile = load_catalog()["acme-bp-wifi"]

    with pytest.raises(ProfileError, match="duplicate id"):
        Catalog([profile, dataclasses.replace(profile, source="copy.toml")])


def test_loading_a_missing_directory_or_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not a directory"):
        load_catalog(tmp_path / "absent")
    with pytest.raises(ProfileError) as caught:
        load_profile_file(tmp_path / "absent.toml")
    assert caught.value.problems[0][:2] == ("absent.toml", "(file)")


def test_profile_files_must_be_utf8_and_small(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes((BLE_HEAD + BLE_SECTION).replace("Example", "Exémple").encode("latin-1"))
    huge = tmp_path / "huge.toml"
    huge.write_text(BLE_HEAD + BLE_SECTION + "#" * catalog_module.MAX_PROFILE_BYTES)

    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile_file(latin1)
    with pytest.raises(ProfileError, match="larger than"):
        load_profile_file(huge)


def test_a_valid_minimal_profile_needs_only_the_required_keys() -> None:
    profile = load_profile_text(BLE_HEAD + BLE_SECTION, "omron-x.toml")

    assert profile == DeviceProfile(
        id="omron-x",
        manufacturer="Example",
        model="X",
        transport="ble-gatt",
        source="omron-x.toml",
        ble=profile.ble,
    )
    assert profile.ble is not None
    assert profile.ble.services == (0x1810,)


# --- each class of problem, with file and field ---------------------------------------------

PROBLEM_CASES = [
    # (description, profile text, expected field, expected words in the message)
    ("toml syntax", BLE_HEAD + "[ble\n", "(document)", "not valid TOML"),
    ("unknown top key", BLE_HEAD + "colour = 'red'\n" + BLE_SECTION, "colour", "unknown key"),
    ("typo gets a hint", BLE_HEAD + BLE_SECTION + "[quirk]\n", "quirk", "did you mean 'quirks'"),
    (
        "wrong type",
        BLE_HEAD.replace('"Example"', "3") + BLE_SECTION,
        "manufacturer",
        "expected a string, got an integer",
    ),
    (
        "missing required",
        BLE_HEAD.replace('model = "X"', "") + BLE_SECTION,
        "model",
        "required key is missing",
    ),
    ("id not a slug", BLE_HEAD.replace('"omron-x"', '"Omron X"') + BLE_SECTION, "id", "not a slug"),
    (
        "unknown schema version",
        "schema_version = 2\n" + BLE_HEAD + BLE_SECTION,
        "schema_version",
        "unsupported schema version",
    ),
    (
        "unknown transport",
        BLE_HEAD.replace('"ble-gatt"', '"zigbee"'),
        "transport",
        "not one of: ble-gatt, mqtt-json",
    ),
    ("ble needs [ble]", BLE_HEAD, "ble", "required table is missing"),
    ("mqtt needs [json]", MQTT_HEAD, "json", "required table is missing"),
    (
        "ble refuses [json]",
        BLE_HEAD + BLE_SECTION + MQTT_SECTION,
        "json",
        "a ble-gatt profile has no [json] section",
    ),
    (
        "mqtt refuses [ble]",
        MQTT_HEAD + MQTT_SECTION + BLE_SECTION,
        "ble",
        "a mqtt-json profile has no [ble] section",
    ),
    (
        "unknown service",
        BLE_HEAD + BLE_SECTION.replace('["1810"]', '["FFF0"]'),
        "ble.services[0]",
        "unknown service FFF0",
    ),
    (
        "characteristic as service",
        BLE_HEAD + BLE_SECTION.replace('["1810"]', '["2A35"]'),
        "ble.services[0]",
        "is not a service",
    ),
    (
        "unknown characteristic",
        BLE_HEAD + BLE_SECTION.replace('["2A35"]', '["2A35", "2AFF"]'),
        "ble.characteristics[1]",
        "unknown characteristic 2AFF",
    ),
    (
        "not a uuid",
        BLE_HEAD + BLE_SECTION.replace('["2A35"]', '["blood"]'),
        "ble.characteristics[0]",
        "not a 16-bit UUID",
    ),
    (
        "empty uuid list",
        BLE_HEAD + BLE_SECTION.replace('["2A35"]', "[]"),
        "ble.characteristics",
        "must not be empty",
    ),
    (
        "unknown quirk",
        BLE_HEAD + BLE_SECTION + "[quirks]\nclock_drift = true\n",
        "quirks.clock_drift",
        "unknown key",
    ),
    (
        "quirk wrong type",
        BLE_HEAD + BLE_SECTION + "[quirks]\nclock_unreliable = 1\n",
        "quirks.clock_unreliable",
        "expected true or false",
    ),
    (
        "quirk wrong value",
        BLE_HEAD + BLE_SECTION + '[quirks]\nclock_zone = "CET"\n',
        "quirks.clock_zone",
        "not one of: local, utc",
    ),
    (
        "quirk for another transport",
        MQTT_HEAD + MQTT_SECTION + "[quirks]\nduplicate_notifications = true\n",
        "quirks.duplicate_notifications",
        "does not apply to a mqtt-json profile",
    ),
    (
        "kg resolution not a feature value",
        BLE_HEAD
        + BLE_SECTION.replace('"1810"', '"181D"').replace('"2A35"', '"2A9D"')
        + "[quirks]\nkg_resolution_override = 0.3\n",
        "quirks.kg_resolution_override",
        "0.3 is not one of",
    ),
    (
        "kg resolution without weight",
        BLE_HEAD + BLE_SECTION + "[quirks]\nkg_resolution_override = 0.05\n",
        "quirks.kg_resolution_override",
        "needs a weight characteristic",
    ),
    (
        "unknown metric in limits",
        BLE_HEAD + BLE_SECTION + "[limits.sugar]\nmin = 1\nmax = 2\n",
        "limits.sugar",
        "unknown metric 'sugar'",
    ),
    (
        "limit above physical",
        BLE_HEAD + BLE_SECTION + "[limits.systolic_bp]\nmin = 60\nmax = 400\n",
        "limits.systolic_bp.max",
        "400 is above the physical limit 320 mm[Hg]",
    ),
    (
        "limit below physical",
        BLE_HEAD + BLE_SECTION + "[limits.weight]\nmin = 0.1\nmax = 200\n",
        "limits.weight.min",
        "0.1 is below the physical limit 0.2 kg",
    ),
    (
        "min not below max",
        BLE_HEAD + BLE_SECTION + "[limits.spo2]\nmin = 90\nmax = 90\n",
        "limits.spo2.min",
        "min 90 must be below max 90",
    ),
    (
        "limit missing max",
        BLE_HEAD + BLE_SECTION + "[limits.spo2]\nmin = 90\n",
        "limits.spo2.max",
        "required key is missing",
    ),
    (
        "limit not a number",
        BLE_HEAD + BLE_SECTION + '[limits.spo2]\nmin = "90"\nmax = 100\n',
        "limits.spo2.min",
        "expected a number, got a string",
    ),
    (
        "limit nan",
        BLE_HEAD + BLE_SECTION + "[limits.spo2]\nmin = nan\nmax = 100\n",
        "limits.spo2.min",
        "not a finite number",
    ),
    (
        "boolean limit",
        BLE_HEAD + BLE_SECTION + "[limits.spo2]\nmin = true\nmax = 100\n",
        "limits.spo2.min",
        "expected a number, got a boolean",
    ),
    (
        "critical outside min..max",
        BLE_HEAD + BLE_SECTION + "[limits.spo2]\nmin = 80\nmax = 100\ncritical_low = 70\n",
        "limits.spo2.critical_low",
        "outside min..max",
    ),
    (
        "unknown limit key",
        BLE_HEAD + BLE_SECTION + "[limits.spo2]\nmin = 80\nmax = 100\nalert = 1\n",
        "limits.spo2.alert",
        "unknown key",
    ),
    (
        "limit for a metric the mapping never produces",
        MQTT_HEAD + MQTT_SECTION + "[limits.spo2]\nmin = 80\nmax = 100\n",
        "limits.spo2",
        "never produces spo2",
    ),
    (
        "unknown unit",
        MQTT_HEAD + MQTT_SECTION.replace('"mg/dL"', '"furlongs"'),
        "json.metrics[0].unit",
        "unknown unit 'furlongs'",
    ),
    (
        "unit not for the metric",
        MQTT_HEAD + MQTT_SECTION.replace('"mg/dL"', '"kg"'),
        "json.metrics[0].unit",
        "'kg' is not valid for glucose",
    ),
    (
        "unknown metric in mapping",
        MQTT_HEAD + MQTT_SECTION.replace('"glucose"', '"glucos"'),
        "json.metrics[0].metric",
        "did you mean 'glucose'",
    ),
    (
        "metric and metric_field",
        MQTT_HEAD + MQTT_SECTION + 'metric_field = "m"\n',
        "json.metrics[0]",
        "exactly one of metric and metric_field",
    ),
    (
        "no unit at all",
        MQTT_HEAD + MQTT_SECTION.replace('unit = "mg/dL"', ""),
        "json.metrics[0]",
        "give unit, unit_field, or both",
    ),
    (
        "bad path",
        MQTT_HEAD + MQTT_SECTION.replace('value = "g"', 'value = "a..b"'),
        "json.metrics[0].value",
        "empty segment",
    ),
    (
        "time without format",
        MQTT_HEAD + MQTT_SECTION.replace('time_format = "epoch_s"', ""),
        "json.time_format",
        "required with time",
    ),
    (
        "unknown time format",
        MQTT_HEAD + MQTT_SECTION.replace('"epoch_s"', '"rfc2822"'),
        "json.time_format",
        "not one of: iso8601, epoch_s, epoch_ms",
    ),
    (
        "scale not positive",
        MQTT_HEAD + MQTT_SECTION + "scale = -1\n",
        "json.metrics[0].scale",
        "not a positive number",
    ),
    (
        "metric mapped twice",
        MQTT_HEAD
        + MQTT_SECTION
        + '[[json.metrics]]\nmetric = "glucose"\nvalue = "h"\nunit = "mg/dL"\n',
        "json.metrics[1].metric",
        "already mapped by json.metrics[0]",
    ),
    ("no metrics", MQTT_HEAD + "[json]\nrecords = 'r'\n", "json.metrics", "at least one"),
    (
        "bad annotation",
        MQTT_HEAD + MQTT_SECTION + 'annotations = [{ field = "x", annotation = "Not A Slug!" }]\n',
        "json.metrics[0].annotations[0].annotation",
        "is not an annotation",
    ),
    (
        "status without values",
        MQTT_HEAD + MQTT_SECTION + 'status = { field = "s" }\n',
        "json.metrics[0].status.values",
        "required table is missing",
    ),
    (
        "unknown mapping key",
        MQTT_HEAD + MQTT_SECTION + 'units = "mg/dL"\n',
        "json.metrics[0].units",
        "did you mean 'unit'",
    ),
]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [case[1:] for case in PROBLEM_CASES],
    ids=[case[0] for case in PROBLEM_CASES],
)
def test_each_problem_is_reported_with_file_and_field(text: str, field: str, words: str) -> None:
    problems = problems_of(text)

    matching = [p for p in problems if p[1] == field]
    assert matching, f"no problem at {field!r}; got {problems}"
    assert all(file == "omron-x.toml" for file, _, _ in problems)
    assert any(words in message for _, _, message in matching), matching


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = """
id = "Omron X"
manufacturer = 3
transport = "ble-gatt"
colour = 1

[quirks]
clok_zone = "utc"

[ble]
services = ["2A35"]
characteristics = ["2AFF"]

[limits.systolic_bp]
min = 300
max = 400

[limits.sugar]
min = 1
max = 2
"""
    problems = problems_of(text)

    assert {field for _, field, _ in problems} >= {
        "id",
        "manufacturer",
        "model",
        "colour",
        "quirks.clok_zone",
        "ble.services[0]",
        "ble.characteristics[0]",
        "limits.systolic_bp.max",
        "limits.sugar",
    }
    assert (
        "omron-x.toml",
        "limits.systolic_bp.max",
        "400 is above the physical limit 320 mm[Hg]",
    ) in problems
    assert str(ProfileError(problems)).count("omron-x.toml: ") == len(problems)


def test_a_bad_record_level_time_is_reported_once_not_per_metric() -> None:
    text = (
        MQTT_HEAD
        + MQTT_SECTION.replace('time = "ts"', 'time = ""')
        + ('[[json.metrics]]\nmetric = "weight"\nvalue = "w"\nunit = "kg"\n')
    )

    assert fields_of(text) == {"json.time"}


def test_metric_field_mode_accepts_an_allowed_metric_list() -> None:
    text = (
        MQTT_HEAD
        + """
[json]
[[json.metrics]]
metric_field = "metric"
metrics = ["glucose", "weight"]
value = "value"
unit_field = "unit"

[limits.weight]
min = 2
max = 300
"""
    )
    profile = load_profile_text(text, "vendor-y.toml")

    assert profile.json_mapping is not None
    assert profile.json_mapping.metrics[0].allowed_metrics == ("glucose", "weight")
    assert fields_of(text.replace('"weight"]', '"wieght"]')) == {"json.metrics[0].metrics[1]"}
    spo2_limits = text.replace(
        "[limits.weight]\nmin = 2\nmax = 300", "[limits.spo2]\nmin = 80\nmax = 100"
    )
    assert fields_of(spo2_limits) == {"limits.spo2"}
