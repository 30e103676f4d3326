"""A short soak in CI: mixed traffic, every outcome the expected one, memory flat."""

from __future__ import annotations

import pytest

import os

from testkit.soak import soak

from .conftest import KEY

pytestmark = pytest.mark.v2_only

SECONDS = float(os.environ.get("SOAK_SECONDS", "6"))


def test_mixed_traffic_soak(cat):
    warm = soak(cat.url, KEY, 2, rss=cat.rss_bytes)  # let caches and pools reach their size
    assert warm.unexpected == {}
    report = soak(cat.url, KEY, SECONDS, rss=cat.rss_bytes)
    print(report.summary())
    assert report.unexpected == {}, report.summary()
    kinds = {"answer", "stream", "client error 400", "cat error 502", "disconnect", "stream error event"}
    assert kinds <= set(report.outcomes), report.summary()
    growth = report.rss[-1] - report.rss[0]
    assert growth < 40 * 2**20, report.summary()  # flat, not climbing by the request
