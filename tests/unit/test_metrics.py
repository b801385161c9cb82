"""``--metrics-file``: gauges rendered in the text exposition format, escaping, the atomic
write and its refusals; the CLI's check of the target before any work, and the file a
failed run leaves (no lab: the runs fail before they would connect)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers import run_vmwctl
from hypothesis import given
from hypothesis import strategies as st
from prometheus import parse

from vmwctl.cli.app import App
from vmwctl.common.files import write_atomically
from vmwctl.common.metrics import (
    LAST_RUN_SUCCESS,
    Gauge,
    Metrics,
    MetricsFile,
    check_target,
    escape_label_value,
    format_value,
    vcenter_label,
)
from vmwctl.errors import OperationFailed, UsageError

STATUS = Gauge("vmwctl_test_status", "A test's status.\nSecond line \\ with a backslash.",
               ("vcenter", "check"))
PLAIN = Gauge("vmwctl_test_total_bytes", "Bytes.")

def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples of an exposition, read back strictly (tests/lab/prometheus.py)."""
    return parse(text).samples


def test_rendering_help_type_and_samples() -> None:
    metrics = Metrics()
    metrics.set(STATUS, 2, vcenter="vc1:8443", check="drs")
    metrics.set(PLAIN, 1536)
    metrics.set(STATUS, 0, check="vcenter", vcenter="vc1:8443")  # labels in any order
    metrics.set(STATUS, 1, vcenter="vc1:8443", check="drs")  # replaces the first
    assert metrics.render() == (
        "# HELP vmwctl_test_status A test's status.\\nSecond line \\\\ with a backslash.\n"
        "# TYPE vmwctl_test_status gauge\n"
        'vmwctl_test_status{vcenter="vc1:8443",check="drs"} 1\n'
        'vmwctl_test_status{vcenter="vc1:8443",check="vcenter"} 0\n'
        "# HELP vmwctl_test_total_bytes Bytes.\n"
        "# TYPE vmwctl_test_total_bytes gauge\n"
        "vmwctl_test_total_bytes 1536\n")
    assert metrics.value(STATUS, vcenter="vc1:8443", check="drs") == 1
    assert metrics.value(STATUS, vcenter="vc1:8443", check="nope") is None


def test_label_values_are_escaped() -> None:
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    metrics = Metrics()
    metrics.set(STATUS, 1, vcenter='odd "name"\\\n', check="x")
    assert 'vcenter="odd \\"name\\"\\\\\\n"' in metrics.render()


@given(st.text(), st.text())
def test_any_label_value_reads_back(vcenter: str, check: str) -> None:
    metrics = Metrics()
    metrics.set(STATUS, 3, vcenter=vcenter, check=check)
    assert samples(metrics.render()) == [("vmwctl_test_status",
                                          {"vcenter": vcenter, "check": check}, 3)]


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (-1, "-1"), (2.0, "2"), (1.5, "1.5"), (1796307901.25, "1796307901.25"),
    (2 ** 60, "1.152921504606847e+18"), (float("nan"), "NaN"), (float("inf"), "+Inf"),
    (float("-inf"), "-Inf")])
def test_values(value: float, text: str) -> None:
    assert format_value(value) == text
    if text not in ("NaN",):
        assert float(text) == value


def test_wrong_labels_and_names_are_refused() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="takes the labels vcenter, check"):
        metrics.set(STATUS, 1, vcenter="a")
    with pytest.raises(ValueError, match="takes the labels none"):
        metrics.set(PLAIN, 1, datastore="x")
    with pytest.raises(ValueError, match="defined twice"):
        metrics.set(PLAIN, 1)
        metrics.set(Gauge(PLAIN.name, "Other help."), 1)
    for name, labels in (("9lives", ()), ("vmwctl-x", ()), ("vmwctl_x", ("a-b",)),
                         ("vmwctl_x", ("__name",)), ("vmwctl_x", ("a", "a"))):
        with pytest.raises(ValueError):
            Gauge(name, "Help.", labels)


def test_vcenter_label() -> None:
    assert vcenter_label("vc.example.org", 443) == "vc.example.org"
    assert vcenter_label("127.0.0.1", 8989) == "127.0.0.1:8989"
    assert vcenter_label(None, 443) == ""


# ---------------------------------------------------------------- the write


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_atomic_write_replaces_with_mode_0644(tmp_path: Path) -> None:
    target = tmp_path / "vmwctl.prom"
    target.write_text("old\n")
    target.chmod(0o600)
    old_umask = os.umask(0o077)
    try:
        write_atomically(target, "new\n", 0o644)
    finally:
        os.umask(old_umask)
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "vmwctl.prom"
    target.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "half \udc80 written\n", 0o644)  # fails while writing
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def unwritable_directory(tmp_path: Path) -> Path:
    """A directory this user cannot create files in: /sys for root (whom permissions do
    not stop), a mode 0555 directory for anyone else."""
    if os.geteuid() == 0:
        return Path("/sys")
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o555)
    return directory


def test_check_target_refusals(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cases = {
        tmp_path / "missing" / "x.prom": "directory .*missing does not exist; create it",
        tmp_path / "file" / "x.prom": "is not a directory",
        tmp_path: "is a directory; name a file in it",
        unwritable_directory(tmp_path) / "x.prom": "cannot write in .*: make it writable"}
    for path, message in cases.items():
        with pytest.raises(UsageError, match=message.replace(": make", r"\); make")) as caught:
            check_target(path)
        assert caught.value.exit_code == 2 and "\n" not in caught.value.message
    check_target(tmp_path / "fine.prom")
    assert leftovers(tmp_path) == [] and not (tmp_path / "fine.prom").exists()


def test_metrics_file_writes_the_run_gauges(tmp_path: Path) -> None:
    clock = iter([1000.0, 1012.5])
    target = tmp_path / "run.prom"
    run = MetricsFile(target, "check prereqs", clock=lambda: next(clock))
    run.identify("vc1", "C1")
    run.metrics.set(STATUS, 2, vcenter="vc1", check="drs")
    run.finish(1)
    labels = {"command": "check prereqs", "vcenter": "vc1", "cluster": "C1"}
    assert samples(target.read_text()) == [
        ("vmwctl_test_status", {"vcenter": "vc1", "check": "drs"}, 2),
        ("vmwctl_last_run_timestamp_seconds", labels, 1012.5),
        ("vmwctl_last_run_success", labels, 0),
        ("vmwctl_last_run_exit_code", labels, 1),
        ("vmwctl_last_run_duration_seconds", labels, 12.5)]
    assert run.metrics.value(LAST_RUN_SUCCESS, **labels) == 0


def test_a_file_that_cannot_be_written_at_the_end_fails_the_run(tmp_path: Path) -> None:
    """The directory went away during the run: exit 1 instead of 0, one line on stderr;
    a run that failed keeps its own exit status."""
    directory = tmp_path / "textfile"
    for code, expected in ((0, 1), (3, 3)):
        directory.mkdir()
        app = App(env={})
        app.metrics = MetricsFile(directory / "x.prom", "check prereqs")
        app.metrics.begin()
        directory.rmdir()
        with pytest.raises(OperationFailed, match=r"x\.prom: not written"):
            app.metrics.finish(code)
        assert app.write_metrics(code) == expected and app.metrics is None


# ---------------------------------------------------------------- the CLI


COMMANDS = (("check", "prereqs"), ("check", "fleet"), ("cache", "purge"))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unusable_target_is_refused_before_anything(command: tuple[str, ...],
                                                       tmp_path: Path) -> None:
    """Exit 2 with one line naming the option, before the config is even looked for (none
    exists here: that error would come otherwise)."""
    for target, says in ((tmp_path / "nope" / "x.prom", "does not exist"),
                         (unwritable_directory(tmp_path) / "x.prom", "cannot write in")):
        result = run_vmwctl(*command, "--metrics-file", str(target))
        assert result.exit_code == 2
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert f"--metrics-file {target}" in line and says in line
    empty = run_vmwctl(*command, "--metrics-file", "")
    assert empty.exit_code == 2 and "--metrics-file is empty" in empty.stderr
    helped = run_vmwctl(*command, "--metrics-file", str(tmp_path / "help.prom"), "--help")
    assert helped.exit_code == 0 and not (tmp_path / "help.prom").exists()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_failed_run_still_writes_the_file(command: tuple[str, ...], tmp_path: Path) -> None:
    """No config file: the command fails (exit 2) and the file says so, labelled with the
    command and no vCenter (none was known)."""
    target = tmp_path / "textfile" / "vmwctl.prom"
    target.parent.mkdir()
    result = run_vmwctl(*command, "-o", "json", "--metrics-file", str(target))
    assert result.exit_code == 2, result.stderr
    found = {name: (labels, value) for name, labels, value in samples(target.read_text())}
    labels = {"command": " ".join(command), "vcenter": "", "cluster": ""}
    assert found["vmwctl_last_run_success"] == (labels, 0)
    assert found["vmwctl_last_run_exit_code"] == (labels, 2)
    assert found["vmwctl_last_run_timestamp_seconds"][1] > 1.7e9
    assert set(found) == {"vmwctl_last_run_success", "vmwctl_last_run_exit_code",
                          "vmwctl_last_run_timestamp_seconds",
                          "vmwctl_last_run_duration_seconds"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert leftovers(target.parent) == []
