"""Nova's cache layout and aging as pure functions: naming, markers, decisions, planning."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmwctl.cache.aging import Action, decide
from vmwctl.cache.layout import (
    LOCK_FOLDER,
    CachedImage,
    Entry,
    build,
    marker_name,
    parse_marker,
)
from vmwctl.cache.purge import PurgeRequest, plan_cache
from vmwctl.cache.usage import containing_folders, read_in_use_ids
from vmwctl.errors import UsageError

NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)
IMG = "0f9d6c52-1d8b-4c3e-9a65-0c7a1e2b3c4d"
IMG2 = "5b0c7e1a-2222-4c3e-9a65-0c7a1e2b3c4d"


def test_marker_name_is_utc_and_parses_back() -> None:
    local = NOW.astimezone(dt.timezone(dt.timedelta(hours=5)))
    assert marker_name(local) == "ts-2026-11-25-12-00-00"
    assert parse_marker("ts-2026-11-25-12-00-00") == NOW


@given(st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(9998, 1, 1)))
def test_marker_round_trip(moment: dt.datetime) -> None:
    stamp = moment.replace(microsecond=0, tzinfo=dt.UTC)
    assert parse_marker(marker_name(stamp)) == stamp


def test_parse_marker_follows_novas_lstrip() -> None:
    # Nova strips the characters t, s and - (str.lstrip), not the prefix
    assert parse_marker("ts--2026-11-25-12-00-00") == NOW
    assert parse_marker("ts-garbage") is None
    assert parse_marker("2026-11-25-12-00-00") is None


def image(markers: list[str] = (), modified: dt.datetime | None = None) -> CachedImage:
    found = CachedImage(IMG, f"[ds] 192.0.2.10_base/{IMG}", markers=list(markers),
                        modified=modified)
    found.marker = next((parse_marker(m) for m in markers if parse_marker(m)), None)
    return found


def test_decide_marks_an_unused_image_without_marker() -> None:
    assert decide(image(), [], NOW, 86400).action == Action.MARK


def test_decide_unmarks_and_keeps_images_in_use() -> None:
    assert decide(image(["ts-2026-11-20-00-00-00"]), ["vm1"], NOW, 86400).action == Action.UNMARK
    assert decide(image(), ["vm1"], NOW, 86400).action == Action.KEEP


def test_decide_deletes_only_strictly_older_than_min_age() -> None:
    exactly = marker_name(NOW - dt.timedelta(seconds=86400))
    older = marker_name(NOW - dt.timedelta(seconds=86401))
    assert decide(image([exactly]), [], NOW, 86400).action == Action.WAIT
    decision = decide(image([older]), [], NOW, 86400)
    assert decision.action == Action.DELETE
    assert decision.delete_after == NOW - dt.timedelta(seconds=1)


def test_decide_remarks_an_unreadable_marker() -> None:
    decision = decide(image(["ts-bad"]), [], NOW, 86400)
    assert decision.action == Action.MARK and "cannot be read" in decision.reason


def tree(**folders: list[Entry]) -> dict[str, list[Entry]]:
    return {path.replace("__", "/").replace("ROOT", ""): entries
            for path, entries in folders.items()}


def test_build_reads_images_sized_copies_isos_markers_and_leftovers() -> None:
    old = NOW - dt.timedelta(days=3)
    layout = {
        "": [Entry("192.0.2.10_base", True), Entry("10.0.0.9_base", True),
             Entry("vmware_temp", True, modified=old), Entry("OSTACK_IMG_x", True, modified=old),
             Entry("instance-vm", True)],
        "192.0.2.10_base": [Entry(IMG, True), Entry(IMG2, True), Entry(LOCK_FOLDER, True),
                            Entry("stray.txt", False)],
        f"192.0.2.10_base/{IMG}": [Entry(f"{IMG}.vmdk", False, 500, old),
                                   Entry(f"{IMG}-flat.vmdk", False, 1000, old),
                                   Entry(f"{IMG}.80.vmdk", False, 500, old),
                                   Entry(f"{IMG}.80-flat.vmdk", False, 2000, old),
                                   Entry(f"{IMG}.1.vmdk", False, 500, old),
                                   Entry("ts-2026-11-20-00-00-00", True, modified=old)],
        f"192.0.2.10_base/{IMG2}": [Entry(f"{IMG2}.iso", False, 7, NOW)],
        "vmware_temp": [Entry("r1", True, modified=old)],
        "vmware_temp/r1": [Entry(IMG, True, modified=NOW)],
        "10.0.0.9_base": [Entry(IMG, True)],
    }
    cache = build("ds", layout, folders=["192.0.2.10_base"], subdirectory_name="_base")
    assert [f.name for f in cache.folders] == ["192.0.2.10_base"]
    folder = cache.folders[0]
    assert folder.locked and folder.others == ["stray.txt"]
    first, second = folder.images
    assert first.size == 4500 and first.sized_copies == [1, 80]
    assert first.marker == dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert first.markers == ["ts-2026-11-20-00-00-00"] and first.modified == old
    assert second.iso and second.modified == NOW
    kinds = {(lo.name, lo.kind) for lo in cache.leftovers}
    assert kinds == {("vmware_temp", "vmware_temp"), ("OSTACK_IMG_x", "OSTACK_IMG")}
    temp = next(lo for lo in cache.leftovers if lo.kind == "vmware_temp")
    assert temp.modified == NOW and temp.children[0].modified == NOW  # newest below counts
    every = build("ds", layout, folders=None, subdirectory_name="_base")
    assert sorted(f.name for f in every.folders) == ["10.0.0.9_base", "192.0.2.10_base"]


def test_plan_keeps_young_folders_and_temp_in_use() -> None:
    old = NOW - dt.timedelta(days=3)
    layout = {
        "": [Entry("192.0.2.10_base", True), Entry("vmware_temp", True, modified=old),
             Entry("OSTACK_IMG_a", True, modified=old), Entry("OSTACK_IMG_b", True,
                                                                modified=old)],
        "192.0.2.10_base": [Entry(IMG, True, modified=old), Entry(IMG2, True, modified=old)],
        # marked long ago, but a file changed an hour ago: wait
        f"192.0.2.10_base/{IMG}": [Entry("ts-2026-11-01-00-00-00", True, modified=old),
                                   Entry(f"{IMG}.vmdk", False, 1,
                                         NOW - dt.timedelta(hours=1))],
        f"192.0.2.10_base/{IMG2}": [Entry("ts-2026-11-01-00-00-00", True, modified=old),
                                    Entry(f"{IMG2}.vmdk", False, 1, old)],
        "vmware_temp": [Entry("old", True, modified=old), Entry("new", True, modified=NOW)],
    }
    cache = build("ds", layout, folders=["192.0.2.10_base"], subdirectory_name="_base")
    request = PurgeRequest("192.0.2.10_base", "_base", 86400, True, frozenset(), NOW)
    plan = {i.path: i for i in plan_cache(cache, {"[ds] OSTACK_IMG_b": ["vm9"]}, request)}
    assert plan[f"[ds] 192.0.2.10_base/{IMG}"].action == Action.WAIT
    assert plan[f"[ds] 192.0.2.10_base/{IMG2}"].action == Action.DELETE
    assert plan["[ds] vmware_temp/old"].action == Action.DELETE
    assert plan["[ds] vmware_temp/new"].action == Action.KEEP
    assert plan["[ds] OSTACK_IMG_a"].action == Action.DELETE
    assert plan["[ds] OSTACK_IMG_b"].action == Action.KEEP
    assert "[ds] vmware_temp" not in plan  # Nova's own folder stays
    forced = PurgeRequest("192.0.2.10_base", "_base", 86400, False, frozenset({IMG2}), NOW)
    again = {i.path: i for i in plan_cache(cache, {}, forced)}
    assert again[f"[ds] 192.0.2.10_base/{IMG2}"].action == Action.UNMARK
    assert not any(i.kind == "temp" for i in again.values())


def test_containing_folders() -> None:
    assert containing_folders(f"[ds] base/{IMG}/{IMG}.vmdk") == ["[ds] base", f"[ds] base/{IMG}"]
    assert containing_folders("[ds] vm.vmx") == []
    assert containing_folders("not a path") == []


def test_in_use_ids_from_options_and_file() -> None:
    text = f"{IMG}\n\n# shelved\nN/A (booted from volume)\n{IMG2.upper()}  \n"
    assert read_in_use_ids([IMG], text) == {IMG, IMG2}
    with pytest.raises(UsageError, match="line 2"):
        read_in_use_ids([], f"{IMG}\ncirros\n", "ids.txt")
    with pytest.raises(UsageError, match="is not an image id"):
        read_in_use_ids(["cirros"])
