"""The registry on SQLite and on PostgreSQL: its migrations, then its queries.

Every test runs on both backends (``tests/fixtures/registry.py``): SQLite in a file of the
test's temporary directory, PostgreSQL on a real server (``tests/fixtures/postgres.py``:
Debian's ``postgresql``, or an external server named by ``HUB_TEST_POSTGRES_URL``), one fresh
database per test.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from hub.adapters.registry import (
    DeadLetter,
    Registry,
    RegistryError,
    RegistryUnavailable,
    migrations,
    schema,
)
from hub.adapters.registry.audit import AuditEvent
from hub.adapters.registry.errors import EnrollmentConflict
from hub.adapters.registry.rejects import DeadLetterRecord, RejectCounts
from hub.core.ins import ins_key
from hub.core.model import Reading, Source, TimeSource
from hub.core.pipeline import Enrollment
from tests.fixtures.audit import ids_by_detail, order_problems, record_concurrently
from tests.fixtures.registry import (  # noqa: F401 - pytest fixtures
    postgres_server_fixture,
    postgres_url_fixture,
    registry_fixture,
    registry_url_fixture,
)

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
VALID_INS = f"2550814168025{ins_key('2550814168025'):02d}"
ADMIN = "admin-1"


@pytest.fixture
def engine(registry_url: str) -> Iterator[Engine]:
    """A plain engine on the test's empty database (no Registry, no tables)."""
    if registry_url.startswith("sqlite:///"):
        Path(registry_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    made = create_engine(registry_url)
    yield made
    made.dispose()


# --- the first release's tables -----------------------------------------------------------
# As `git show 7d06351:hub/adapters/registry/schema.py` defines them: what current users' databases
# hold, made by create_all, without an alembic_version table.


def first_release_metadata() -> MetaData:
    metadata = MetaData()
    Table(
        "enrollments",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("device_id", String(128), nullable=False),
        Column("patient_id", String(64), nullable=False),
        Column("start_ms", BigInteger, nullable=False),
        Column("end_ms", BigInteger, nullable=True),
        Column("created_ms", BigInteger, nullable=False),
        Column("created_by", String(128), nullable=False),
        Index("enrollments_device", "device_id", "start_ms"),
        Index("enrollments_patient", "patient_id"),
    )
    Table(
        "dead_letters",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("received_ms", BigInteger, nullable=False),
        Column("source", String(16), nullable=False),
        Column("topic", String(512), nullable=False),
        Column("sender_id", String(128), nullable=True),
        Column("item_index", Integer, nullable=True),
        Column("kind", String(32), nullable=False),
        Column("reason", Text, nullable=False),
        Column("field", String(256), nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Index("dead_letters_received", "received_ms"),
    )
    Table(
        "quarantine",
        metadata,
        Column("reading_id", String(32), primary_key=True),
        Column("device_id", String(128), nullable=False),
        Column("t_ms", BigInteger, nullable=False),
        Column("received_ms", BigInteger, nullable=False),
        Column("reason", Text, nullable=False),
        Column("reading", Text, nullable=False),
        Index("quarantine_device", "device_id", "t_ms"),
    )
    Table(
        "audit_events",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at_ms", BigInteger, nullable=False),
        Column("actor", String(128), nullable=False),
        Column("role", String(32), nullable=False),
        Column("action", String(64), nullable=False),
        Column("patient_id", String(64), nullable=True),
        Column("outcome", String(16), nullable=False),
        Column("detail", Text, nullable=True),
        Index("audit_patient", "patient_id", "at_ms"),
    )
    return metadata


FIRST_RELEASE = first_release_metadata()
ORDER = {
    "enrollments": "id",
    "dead_letters": "id",
    "quarantine": "reading_id",
    "audit_events": "id",
}

# Every kind of value the first release wrote, NULLs and awkward bytes included.
FIRST_RELEASE_ROWS: dict[str, list[dict[str, Any]]] = {
    "enrollments": [
        {
            "id": 1,
            "device_id": "cgm-1",
            "patient_id": "pt-a",
            "start_ms": 1_700_000_000_000,
            "end_ms": 1_700_000_600_000,
            "created_ms": 1_700_000_000_001,
            "created_by": "admin-1",
        },
        {
            "id": 2,
            "device_id": "cgm-1",
            "patient_id": "pt-b",
            "start_ms": 1_700_000_600_000,
            "end_ms": None,
            "created_ms": 1_700_000_600_001,
            "created_by": "admin-2",
        },
    ],
    "dead_letters": [
        {
            "id": "d" * 32,
            "received_ms": 1_700_000_000_500,
            "source": "mqtt",
            "topic": "hs/v1/dev/cgm-1/readings",
            "sender_id": "cgm-1",
            "item_index": 3,
            "kind": "invalid-value",
            "reason": "glucose 9000 mg/dL is not plausible",
            "field": "value",
            "payload": b"\x00\xff{not json\x1f",
        },
        {
            "id": "e" * 32,
            "received_ms": 1_700_000_000_600,
            "source": "provider",
            "topic": "/v1/provider/readings",
            "sender_id": None,
            "item_index": None,
            "kind": "malformed",
            "reason": "not JSON",
            "field": None,
            "payload": b"",
        },
    ],
    "quarantine": [
        {
            "reading_id": "q" * 32,
            "device_id": "bpm-9",
            "t_ms": 1_700_000_100_000,
            "received_ms": 1_700_000_100_100,
            "reason": "no enrollment covers the reading",
            "reading": '{"reading_id": "qqq", "value": 120.0, "note": "é"}',
        }
    ],
    "audit_events": [
        {
            "id": 1,
            "at_ms": 1_700_000_000_000,
            "actor": "pt-a",
            "role": "patient",
            "action": "read-readings",
            "patient_id": "pt-a",
            "outcome": "allowed",
            "detail": None,
        },
        {
            "id": 2,
            "at_ms": 1_700_000_000_001,
            "actor": "dr-x",
            "role": "practitioner",
            "action": "read-readings",
            "patient_id": "pt-a",
            "outcome": "refused",
            "detail": "no care relationship",
        },
    ],
}


def write_first_release_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        for name, rows in FIRST_RELEASE_ROWS.items():
            conn.execute(FIRST_RELEASE.tables[name].insert(), rows)


def assert_first_release_rows_kept(engine: Engine) -> None:
    with engine.connect() as conn:
        for name, rows in FIRST_RELEASE_ROWS.items():
            table = FIRST_RELEASE.tables[name]  # the first release's columns only
            found = conn.execute(select(table).order_by(table.c[ORDER[name]])).mappings().all()
            assert [dict(row) for row in found] == rows, name


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


# --- migrations -----------------------------------------------------------------------------


def test_a_fresh_database_upgraded_to_head_matches_the_schema(engine: Engine) -> None:
    assert migrations.current_revision(engine) is None
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    assert migrations.schema_differences(engine) == []
    assert table_names(engine) == set(schema.metadata.tables) | {"alembic_version"}


def test_revision_0001_is_the_first_release_schema(engine: Engine) -> None:
    migrations.upgrade(engine, to="0001")
    assert migrations.current_revision(engine) == "0001"
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, FIRST_RELEASE) == []


def test_upgrade_from_0001_keeps_every_row(engine: Engine) -> None:
    migrations.upgrade(engine, to="0001")
    write_first_release_rows(engine)

    migrations.upgrade(engine)

    assert migrations.current_revision(engine) == migrations.head_revision()
    assert_first_release_rows_kept(engine)
    with engine.connect() as conn:
        roles = conn.execute(select(schema.enrollments.c.created_by_role)).scalars().all()
    assert roles == ["admin", "admin"]
    assert migrations.schema_differences(engine) == []


def test_a_first_release_create_all_database_is_stamped_then_upgraded(engine: Engine) -> None:
    FIRST_RELEASE.create_all(engine)
    write_first_release_rows(engine)
    assert migrations.current_revision(engine) is None

    migrations.upgrade(engine)

    assert migrations.current_revision(engine) == migrations.head_revision()
    assert_first_release_rows_kept(engine)
    assert migrations.schema_differences(engine) == []


def test_the_registry_opens_a_first_release_database_with_its_data(registry_url: str) -> None:
    """What a current user sees after upgrading the hub: their var/registry.sqlite3 works."""
    if registry_url.startswith("sqlite:///"):
        Path(registry_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    old = create_engine(registry_url)
    FIRST_RELEASE.create_all(old)
    write_first_release_rows(old)
    old.dispose()

    reg = Registry(registry_url)
    try:
        history = reg.enrollments.for_devices(["cgm-1"])["cgm-1"]
        assert sorted((e.patient_id, e.end is None) for e in history) == [
            ("pt-a", False),
            ("pt-b", True),
        ]
        assert reg.rejects.counts() == RejectCounts(dead_letters=2, quarantine=1)
        assert [e.outcome for e in reg.audit.trail("pt-a")] == ["refused", "allowed"]
        assert {d.payload for d in reg.rejects.dead_letters()} == {b"\x00\xff{not json\x1f", b""}
        assert migrations.current_revision(reg.engine) == migrations.head_revision()
    finally:
        reg.close()


def test_a_create_all_database_of_the_current_schema_is_stamped_at_head(engine: Engine) -> None:
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.patients.insert().values(id="pt-1", ins="1234567890123", created_ms=1))

    migrations.upgrade(engine)

    assert migrations.current_revision(engine) == migrations.head_revision()
    with engine.connect() as conn:
        assert conn.execute(select(schema.patients.c.id)).scalars().all() == ["pt-1"]


def test_an_unrecognisable_unversioned_database_is_refused_untouched(engine: Engine) -> None:
    partial = MetaData()
    for name in ("enrollments", "patients"):
        schema.metadata.tables[name].to_metadata(partial)
    partial.create_all(engine)

    with pytest.raises(migrations.MigrationError, match="match neither"):
        migrations.upgrade(engine)

    assert table_names(engine) == {"enrollments", "patients"}


def test_a_failed_step_leaves_the_database_as_it_was(engine: Engine) -> None:
    migrations.upgrade(engine, to="0001")
    write_first_release_rows(engine)
    with engine.begin() as conn:  # in the way of 0002's last table
        conn.execute(text("CREATE TABLE outbox (stray INTEGER)"))

    with pytest.raises(SQLAlchemyError):
        migrations.upgrade(engine)

    assert migrations.current_revision(engine) == "0001"
    assert table_names(engine) == set(FIRST_RELEASE.tables) | {"alembic_version", "outbox"}
    assert "created_by_role" not in columns(engine, "enrollments")
    assert_first_release_rows_kept(engine)


def test_a_database_of_a_newer_hub_is_refused(engine: Engine) -> None:
    migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(migrations.MigrationError, match="newer hub"):
        migrations.upgrade(engine)


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    migrations.upgrade(engine)
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()


def test_downgrade_to_0001_then_upgrade_again(engine: Engine) -> None:
    migrations.upgrade(engine, to="0001")
    write_first_release_rows(engine)
    migrations.upgrade(engine)

    migrations.downgrade(engine, to="0001")
    assert migrations.current_revision(engine) == "0001"
    assert table_names(engine) == set(FIRST_RELEASE.tables) | {"alembic_version"}
    assert_first_release_rows_kept(engine)

    migrations.upgrade(engine)
    assert migrations.schema_differences(engine) == []
    assert_first_release_rows_kept(engine)


UPGRADE_WHEN_TOLD = """
import sys, time
from pathlib import Path
from sqlalchemy import create_engine
from hub.adapters.registry.migrations import upgrade
url, go = sys.argv[1], Path(sys.argv[2])
engine = create_engine(url)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
upgrade(engine)
"""


def test_processes_starting_together_all_upgrade_once(
    engine: Engine, registry_url: str, tmp_path: Path
) -> None:
    """`hub api` and `hub bridge` start at once on a new database: one migrates, all work."""
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE_WHEN_TOLD, registry_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    go.touch()
    for process in processes:
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors
    assert migrations.current_revision(engine) == migrations.head_revision()
    assert migrations.schema_differences(engine) == []


def test_the_command_line_upgrades_and_reports(engine: Engine, registry_url: str) -> None:
    def run(*args: str) -> str:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "hub.adapters.registry.migrations",
                *args,
                "--url",
                registry_url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    head = migrations.head_revision()
    assert run("upgrade") == f"{head} (head: {head})"
    assert run("current") == f"{head} (head: {head})"
    assert migrations.current_revision(engine) == head


def test_revisions_are_one_numbered_line_of_self_contained_files() -> None:
    """0001, 0002, … each in versions/v<rev>_*.py, none importing the live schema."""
    versions = migrations.SCRIPT_LOCATION / "versions"
    script = migrations._script()
    revisions = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revisions] == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert [r.down_revision for r in revisions] == [None] + [r.revision for r in revisions[:-1]]
    for revision in revisions:
        path = Path(revision.path)
        assert path.parent == versions and path.name.startswith(f"v{revision.revision}_")
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not any(str(name).startswith("hub") for name in imported), path.name


# --- the Registry's queries -----------------------------------------------------------------


def reading(
    reading_id: str, device_id: str = "cgm-1", at: datetime = T0, value: float = 112.5
) -> Reading:
    return Reading(
        reading_id=reading_id,
        patient_id="",
        device_id=device_id,
        metric="glucose_isf",
        value=value,
        unit="mg/dL",
        effective_time=at,
        receive_time=at + timedelta(seconds=2),
        device_time=at.strftime("%Y-%m-%dT%H:%M:%S"),
        time_source=TimeSource.DEVICE,
        source=Source.MQTT,
        seq=7,
        flags=("clock-skew",),
    )


def dead_letter(index: int, received: datetime = T0, payload: bytes = b"{}") -> DeadLetter:
    return DeadLetter(
        received_time=received,
        source="mqtt",
        topic="hs/v1/dev/cgm-1/readings",
        sender_id="cgm-1",
        item_index=index,
        kind="invalid-value",
        reason=f"item {index} is not plausible",
        field="value",
        payload=payload,
        device_id="cgm-1",
    )


def enroll(reg: Registry, device: str, patient: str, start: datetime) -> Enrollment:
    record = reg.enrollments.enroll(
        device, patient, start, actor=ADMIN, role="admin", created=start + timedelta(minutes=1)
    )
    return record.period


def test_enroll_then_read_the_enrollment(registry: Registry) -> None:
    made = enroll(registry, "cgm-1", "pt-a", T0)

    assert made == Enrollment("cgm-1", "pt-a", T0)
    [record] = registry.enrollments.of_device("cgm-1")
    assert (record.created_by, record.created_by_role) == (ADMIN, "admin")
    assert registry.enrollments.for_devices(["cgm-1"]) == {
        "cgm-1": [Enrollment("cgm-1", "pt-a", T0)]
    }


def test_a_new_enrollment_hands_the_device_over(registry: Registry) -> None:
    handover = T0 + timedelta(days=3)
    enroll(registry, "cgm-1", "pt-a", T0)
    enroll(registry, "cgm-1", "pt-b", handover)

    history = sorted(registry.enrollments.for_devices(["cgm-1"])["cgm-1"], key=lambda e: e.start)
    assert history == [
        Enrollment("cgm-1", "pt-a", T0, handover),
        Enrollment("cgm-1", "pt-b", handover, None),
    ]
    assert history[0].covers(handover - timedelta(milliseconds=1))
    assert not history[0].covers(handover)


@pytest.mark.parametrize("offset", [timedelta(0), -timedelta(hours=1)])
def test_an_enrollment_starting_before_the_current_one_conflicts(
    registry: Registry, offset: timedelta
) -> None:
    enroll(registry, "cgm-1", "pt-a", T0)

    with pytest.raises(EnrollmentConflict, match="cgm-1"):
        enroll(registry, "cgm-1", "pt-b", T0 + offset)

    assert registry.enrollments.for_devices(["cgm-1"])["cgm-1"] == [Enrollment("cgm-1", "pt-a", T0)]


def test_enrollments_for_several_devices(registry: Registry) -> None:
    enroll(registry, "cgm-1", "pt-a", T0)
    enroll(registry, "bpm-1", "pt-a", T0 + timedelta(hours=1))

    found = registry.enrollments.for_devices(["bpm-1", "cgm-1", "unknown", "cgm-1"])

    assert found == {
        "bpm-1": [Enrollment("bpm-1", "pt-a", T0 + timedelta(hours=1))],
        "cgm-1": [Enrollment("cgm-1", "pt-a", T0)],
        "unknown": [],
    }
    assert registry.enrollments.for_devices([]) == {}


def test_rejects_are_kept_once_however_often_a_batch_is_retried(registry: Registry) -> None:
    dead = [dead_letter(0), dead_letter(1, payload=b"\x00\x01\xfe\xff")]
    quarantined = [(reading("r1"), "no enrollment"), (reading("r2", "bpm-1"), "no enrollment")]

    for _ in range(3):
        registry.rejects.keep(dead, quarantined)
    registry.rejects.keep(dead[:1], quarantined[1:])  # a partial retry

    assert registry.rejects.counts() == RejectCounts(dead_letters=2, quarantine=2)
    rows = sorted(registry.rejects.dead_letters(), key=lambda row: row.item_index or 0)
    assert [(row.id, row.payload) for row in rows] == [(d.id, d.payload) for d in dead]


def test_a_dead_letter_keeps_every_field(registry: Registry) -> None:
    letter = dead_letter(4, received=T0 + timedelta(milliseconds=123), payload=b"\x00bad")
    registry.rejects.keep([letter], [])

    assert registry.rejects.dead_letters() == [
        DeadLetterRecord(
            id=letter.id,
            received=T0 + timedelta(milliseconds=123),
            source="mqtt",
            topic="hs/v1/dev/cgm-1/readings",
            sender_id="cgm-1",
            item_index=4,
            kind="invalid-value",
            reason="item 4 is not plausible",
            field="value",
            payload=b"\x00bad",
            device_id="cgm-1",
            payload_size=4,
            payload_sha256=None,  # kept whole: no digest needed
        )
    ]


def test_dead_letters_are_bounded_per_item_and_in_number(registry_url: str) -> None:
    from hub.adapters.registry.rejects import DeadLetterLimits

    bounded = Registry(registry_url, dead_letter_limits=DeadLetterLimits(16, 3))
    try:
        big = dead_letter(0, received=T0, payload=b"x" * 40)
        kept = bounded.rejects.keep([big], [])
        assert kept.evicted == 0
        [row] = bounded.rejects.dead_letters()
        assert (row.payload, row.payload_size) == (b"x" * 16, 40)
        assert row.payload_sha256 == hashlib.sha256(b"x" * 40).hexdigest()
        later = [
            dead_letter(i, received=T0 + timedelta(seconds=i), payload=b"p%d" % i)
            for i in range(1, 4)
        ]
        assert bounded.rejects.keep(later, []).evicted == 1  # the oldest went
        assert sorted(r.item_index or 0 for r in bounded.rejects.dead_letters()) == [1, 2, 3]
    finally:
        bounded.close()


def test_keeping_nothing_is_a_no_op(registry: Registry) -> None:
    registry.rejects.keep([], [])
    assert registry.rejects.counts() == RejectCounts(dead_letters=0, quarantine=0)


def test_dead_letters_page_newest_first(registry: Registry) -> None:
    # Seven letters over four instants: pages must split ties on received time correctly.
    letters = [dead_letter(i, received=T0 + timedelta(seconds=i // 2)) for i in range(7)]
    registry.rejects.keep(letters, [])

    pages: list[list[DeadLetterRecord]] = []
    cursor: str | None = None
    while True:
        page = registry.rejects.dead_letters(limit=2, before=cursor)
        if not page:
            break
        pages.append(page)
        cursor = page[-1].cursor

    assert [len(page) for page in pages] == [2, 2, 2, 1]
    seen = [row for page in pages for row in page]
    assert [row.id for row in seen] == [row.id for row in registry.rejects.dead_letters(limit=10)]
    assert sorted(row.id for row in seen) == sorted(d.id for d in letters)
    keys = [(row.received, row.id) for row in seen]
    assert keys == sorted(keys, reverse=True)


def test_quarantined_readings_come_back_whole_and_are_released(registry: Registry) -> None:
    first, second = reading("r1"), reading("r2", at=T0 + timedelta(minutes=5), value=98.0)
    other_device = reading("r3", "bpm-1")
    registry.rejects.keep([], [(first, "no enrollment"), (second, "x"), (other_device, "x")])

    assert sorted(registry.rejects.quarantined("cgm-1"), key=lambda r: r.reading_id) == [
        first,
        second,
    ]
    assert registry.rejects.quarantined("nobody") == []

    registry.rejects.release(["r1"])
    registry.rejects.release([])
    assert registry.rejects.quarantined("cgm-1") == [second]
    assert registry.rejects.counts() == RejectCounts(dead_letters=0, quarantine=2)


def test_audit_trail_is_the_patients_own_newest_first(registry: Registry) -> None:
    events = [
        (T0, "pt-a", "patient", "read-readings", "pt-a", "allowed", None),
        (T0 + timedelta(seconds=1), "dr-x", "practitioner", "read-readings", "pt-a", "refused",
         "no care relationship"),
        (T0 + timedelta(seconds=1), ADMIN, "admin", "enroll", "pt-a", "allowed", "cgm-1"),
        (T0 + timedelta(seconds=2), "pt-b", "patient", "read-readings", "pt-b", "allowed", None),
        (T0 + timedelta(seconds=3), ADMIN, "admin", "list-dead-letters", None, "allowed", None),
    ]  # fmt: skip
    for at, actor, role, action, patient, outcome, detail in events:
        registry.audit.record(AuditEvent(at, actor, role, action, patient, outcome, detail))

    trail = registry.audit.trail("pt-a")
    # Same instant: the later append comes first.
    assert [(e.actor, e.outcome, e.detail) for e in trail] == [
        (ADMIN, "allowed", "cgm-1"),
        ("dr-x", "refused", "no care relationship"),
        ("pt-a", "allowed", None),
    ]
    assert trail[-1].at == T0
    assert {e.patient_id for e in trail} == {"pt-a"}
    assert len(registry.audit.trail("pt-a", limit=2)) == 2
    assert [e.actor for e in registry.audit.trail("pt-b")] == ["pt-b"]
    assert registry.audit.trail("nobody") == []


def test_concurrent_audit_events_are_each_stored_once_before_record_returns(
    registry: Registry, registry_url: str
) -> None:
    # Concurrent callers share commits (Audit.record): each still returns only once another
    # connection reads its event, and ids follow the order of the calls.
    observer = create_engine(registry_url)
    try:
        calls, problems = record_concurrently(registry, observer, threads=12, per_thread=10)
        assert problems == []
        ids = ids_by_detail(observer)
    finally:
        observer.dispose()
    assert sorted(ids) == sorted(c.detail for c in calls)
    assert len(calls) == 120
    assert all(len(found) == 1 for found in ids.values())
    assert order_problems(calls, ids) == []


def test_a_reopened_registry_sees_everything(registry: Registry, registry_url: str) -> None:
    enroll(registry, "cgm-1", "pt-a", T0)
    registry.rejects.keep([dead_letter(0)], [(reading("r1"), "no enrollment")])
    registry.audit.record(AuditEvent(T0, ADMIN, "admin", "enroll", "pt-a", "allowed"))
    registry.close()

    again = Registry(registry_url)
    try:
        assert again.enrollments.for_devices(["cgm-1"])["cgm-1"] == [
            Enrollment("cgm-1", "pt-a", T0)
        ]
        assert again.rejects.counts() == RejectCounts(dead_letters=1, quarantine=1)
        assert len(again.audit.trail("pt-a")) == 1
    finally:
        again.close()


def test_patient_preferences_default_then_stored(registry: Registry) -> None:
    from hub.adapters.registry.patients import PatientPreferences

    assert registry.patients.preferences("pat-unknown") == PatientPreferences()
    patient, _ = registry.patients.register(VALID_INS, now=T0)
    chosen = PatientPreferences("Indian/Reunion", "en", "mmol/L", "diabetes-t1")
    assert registry.patients.set_preferences(patient, chosen)
    assert registry.patients.preferences(patient) == chosen
    assert not registry.patients.set_preferences("pat-unknown", chosen)


def test_programs_are_saved_and_updated(registry: Registry) -> None:
    from hub.adapters.registry.programs import ProgramRecord

    program = ProgramRecord("heart-failure", "Heart failure", {"weight_gain_kg": 1.5}, ("week",))
    assert registry.programs.save(program, now=T0)
    assert registry.programs.get("heart-failure") == program
    changed = ProgramRecord("heart-failure", "Heart failure", {"weight_gain_kg": 2.0})
    assert not registry.programs.save(changed, now=T0)
    assert registry.programs.all() == [changed]
    assert registry.programs.get("none") is None


def test_a_refused_write_quotes_no_value_on_either_backend(registry: Registry) -> None:
    """PostgreSQL's message says which key clashed on a second line (DETAIL: Key (ins)=...);
    the registry's error keeps the first line only, and SQLAlchemy hides the parameters."""
    registry.patients.register(VALID_INS, now=T0)
    with pytest.raises(RegistryError) as refused, registry.db.write("test") as conn:
        conn.execute(schema.patients.insert().values(id="pat-x", ins=VALID_INS, created_ms=1))
    assert not isinstance(refused.value, RegistryUnavailable)
    logged = "".join(traceback.format_exception(refused.value))  # what a log would print
    assert "IntegrityError" in logged
    assert VALID_INS not in logged and "pat-x" not in logged
