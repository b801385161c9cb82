"""The table of a check report: the objects line of a row says only what its detail
does not, once."""

from __future__ import annotations

import io

from vmwctl.checks.model import CheckReport, failed, passed, warned
from vmwctl.cli.check.render import objects_line, render_report
from vmwctl.cli.output import Output


def rendered(report: CheckReport, columns: int = 120) -> str:
    stream = io.StringIO()
    Output(stdout=stream, stderr=io.StringIO(), env={"COLUMNS": str(columns)}).result(
        report, render_report)
    return stream.getvalue()


def test_objects_the_detail_names_are_not_repeated() -> None:
    assert objects_line("DC0_C0_H0 leaves 5900 closed; DC0_C0_H1 leaves 5901 closed",
                        ["DC0_C0_H0", "DC0_C0_H1"]) == ""
    # privileges by the vSphere Client's labels count as named
    assert objects_line("lacks 2: Datastore > Allocate space, Folder > Create folder",
                        ["Datastore.AllocateSpace", "Folder.Create"]) == ""


def test_objects_the_detail_does_not_name_are_shown_once() -> None:
    # the privileges held but not propagated: the detail names none of them
    assert objects_line("holds the privileges on /DC0 but not on the cluster below it",
                        ["Datastore.Browse", "Folder.Create"]) == \
        "\nDatastore.Browse, Folder.Create"
    # a detail that names the first five: the rest, once
    vms = [f"vm{i}" for i in range(7)]
    assert objects_line("7 VM(s) Nova did not create (vm0, vm1, vm2, vm3, vm4, ...)", vms) == \
        "\nalso: vm5, vm6"
    many = [f"host-{i:02}" for i in range(20)]
    assert objects_line("20 hosts", many) == "\n" + ", ".join(many[:12]) + ", ... (20)"


def test_report_table_shows_warn_and_fail_objects_only() -> None:
    report = CheckReport("https://vc/sdk", "C1", [
        passed("datastores", "Nova uses ds1", ["ds1"]),
        warned("dedicated", "2 VM(s) Nova did not create", ["a-vm", "b-vm"], "move them"),
        failed("network", "port group 'br-int' is missing on h1", ["h1"], "create it")])
    text = rendered(report)
    assert text.count("ds1") == 1 and text.count("h1") == 1
    assert "a-vm, b-vm" in text
    assert text.splitlines()[0] == "vCenter https://vc/sdk cluster C1"
    assert text.splitlines()[-1].strip() == "1 passed, 1 warned, 1 failed, 0 skipped"
