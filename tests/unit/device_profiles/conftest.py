"""Hypothesis profiles for the device_profiles tests.

``HYPOTHESIS_PROFILE=ci`` (the default): 10 000 examples per property, derandomized, so a
failure reproduces on every machine from the test name alone. ``HYPOTHESIS_PROFILE=dev``:
1 000 examples, for a quick local loop. Tests that set their own ``max_examples`` keep it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=10_000,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=1_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
