"""The fleet's progress line and its end-of-run summary (pure formatting)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gateway_firmware_sim.timebase import DAY, iso_utc


@dataclass(slots=True)
class DeviceSummary:
    patient_id: str
    kind: str
    transport: str  # "ble" or "mqtt"
    gateway_id: str | None
    readings: int  # readings handed to a gateway or published: the hub stores each once
    lost: int  # readings the device measured that nobody received
    seqs: list[int] | None  # first and last record number, for devices that number records
    seq_count: int


@dataclass(slots=True)
class Summary:
    patients: int = 0
    gateways: int = 0
    ble_devices: int = 0
    mqtt_devices: int = 0
    start: float = 0.0
    end: float = 0.0  # simulated time reached
    wall_s: float = 0.0
    readings: int = 0
    lost: int = 0
    items: int = 0  # frames and device messages queued in outboxes
    sent: int = 0  # items published, resends included
    messages: int = 0
    resent: int = 0
    acked: int = 0
    outstanding: int = 0
    malformed: int = 0
    duplicates: int = 0
    garbage: int = 0
    reconnects: int = 0
    faults: list[str] = field(default_factory=list)
    devices: dict[str, DeviceSummary] = field(default_factory=dict)

    @property
    def device_count(self) -> int:
        return self.ble_devices + self.mqtt_devices

    def to_json(self) -> dict[str, object]:
        document = asdict(self)
        document["start"] = iso_utc(self.start)
        document["end"] = iso_utc(self.end)
        return document

    def text(self) -> str:
        days = (self.end - self.start) / DAY
        lines = [
            f"hub sim: {self.patients} patients, {self.gateways} gateways, "
            f"{self.device_count} devices ({self.ble_devices} BLE, {self.mqtt_devices} MQTT)",
            f"  simulated {iso_utc(self.start)} -> {iso_utc(self.end)} ({days:.2f} days) "
            f"in {self.wall_s:.0f} s",
            f"  readings generated {self.readings:,} (lost before any gateway heard them: "
            f"{self.lost:,})",
            f"  frames/messages queued {self.items:,}, sent {self.sent:,} "
            f"(resent {self.resent:,}) in {self.messages:,} MQTT messages",
            f"  acked {self.acked:,}, outstanding {self.outstanding:,}",
        ]
        if self.malformed or self.duplicates or self.garbage:
            lines.append(
                f"  faults injected: {self.malformed} damaged frames, {self.duplicates} "
                f"duplicate messages, {self.garbage} non-JSON messages"
            )
        lines += [f"  fault: {note}" for note in self.faults]
        return "\n".join(lines)


def progress_line(
    *,
    sim: float,
    start: float,
    end: float,
    live: bool,
    readings: int,
    sent: int,
    acked: int,
    outstanding: int,
    width: int = 24,
) -> str:
    """``[#######.........]  42% 2026-11-25T10:00:00Z | readings ... | outstanding ...``."""
    counts = (
        f"readings {readings:,} | sent {sent:,} | acked {acked:,} | outstanding {outstanding:,}"
    )
    if sim >= end and live:
        return f"live {iso_utc(sim)} | {counts}"
    fraction = 1.0 if end <= start else min(1.0, max(0.0, (sim - start) / (end - start)))
    filled = round(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    return f"[{bar}] {fraction * 100:3.0f}% {iso_utc(sim)} | {counts}"
