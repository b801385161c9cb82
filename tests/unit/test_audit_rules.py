"""The audit's rules on plain data: Nova's VM names, ages, --max, the kinds clean acts on."""

from __future__ import annotations

import datetime as dt

import pytest

from vmwctl.audit.clean import Limit, parse_age, parse_kinds
from vmwctl.audit.findings import instance_of, is_novas, orphan_mark
from vmwctl.errors import UsageError
from vmwctl.vsphere.model import VirtualMachine

UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def vm(name: str, **marks: object) -> VirtualMachine:
    fields = {"nova_uuid": None, "vmwctl_marker": None, "vnc_port": None, **marks}
    return VirtualMachine(moid="vm-1", name=name, host=None, datastores=[], power_state=None,
                          **fields)


@pytest.mark.parametrize("name, instance", [
    (UUID, UUID),
    (f"web-server ({UUID})", UUID),
    (f"{'x' * 41} ({UUID})", UUID),
    (f"{'x' * 42} ({UUID})", None),  # Nova cuts display names at 41 characters
    (f"web ({UUID}", None),
    ("OSTACK_IMG_1", None),
])
def test_instance_from_novas_names(name: str, instance: str | None) -> None:
    assert instance_of(vm(name)) == instance
    assert is_novas(vm(name)) == (instance is not None)


def test_the_marker_wins_and_other_solutions_are_not_novas() -> None:
    assert instance_of(vm("renamed by hand", nova_uuid=UUID.upper())) == UUID
    assert not is_novas(vm(UUID, managed_by="com.vmware.nsx"))
    assert not is_novas(vm(UUID, vmwctl_marker="{}"))


def test_the_orphan_mark_is_read_or_ignored() -> None:
    mark = orphan_mark(vm(UUID, orphan_mark='{"since": "2026-12-01T10:00:00+00:00", '
                                            '"power": "poweredOn"}'))
    assert mark == {"since": dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC), "power": "poweredOn"}
    naive = orphan_mark(vm(UUID, orphan_mark='{"since": "2026-12-01T10:00:00"}'))
    assert naive is not None and naive["since"].tzinfo == dt.UTC  # comparable with now
    for bad in (None, "", "not json", "[]", '{"power": "poweredOn"}', '{"since": "soon"}'):
        assert orphan_mark(vm(UUID, orphan_mark=bad)) is None


@pytest.mark.parametrize("text, seconds", [("90", 90), ("45m", 2700), ("12h", 43200),
                                           ("7d", 604800), ("2w", 1209600), ("0", 0)])
def test_ages(text: str, seconds: int) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-1d", "1y", "1.5h"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(UsageError, match="--older-than"):
        parse_age(text)


def test_limits() -> None:
    assert Limit.parse("3").allows(3, 100) and not Limit.parse("3").allows(4, 100)
    assert Limit.parse("5%").allows(5, 100) and not Limit.parse("5%").allows(6, 100)
    assert Limit.parse(None) is None
    for bad in ("-1", "x", "150%", "%"):
        with pytest.raises(UsageError, match="--max"):
            Limit.parse(bad)


def test_kinds_clean_acts_on() -> None:
    assert parse_kinds(None) == ["orphan-vm", "shadow-vm", "orphan-folder", "deleted-image"]
    assert parse_kinds("shadow-vm, orphan-folder") == ["shadow-vm", "orphan-folder"]
    with pytest.raises(UsageError, match="foreign-vm is not cleaned by vmwctl"):
        parse_kinds("foreign-vm")
