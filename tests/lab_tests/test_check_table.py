"""The table of ``check prereqs``: each thing said once; JSON keeps the full lists.

The unprepared scenario fails two checks whose detail names every object:
``vnc-firewall`` (each host and what it leaves closed) and ``privileges`` (the
44 privileges by the vSphere Client's labels).
"""

from __future__ import annotations

import pytest

from vmwctl.privileges.guide import GUIDE_IDS

pytestmark = pytest.mark.lab


def test_the_table_names_each_object_once(simulator) -> None:
    sim = simulator(scenario="unprepared")
    table = sim.run("check", "prereqs", "--portgroup", "br-int", env={"COLUMNS": "160"})
    assert table.exit_code == 1, table.stderr
    # the labels in the detail, not the ids again under them
    assert [pid for pid in GUIDE_IDS if pid in table.stdout] == []
    assert "Datastore > Allocate" in table.stdout
    # each host once: in the detail, not again on a line of objects
    for host in ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"):
        assert table.stdout.count(host) == 1, table.stdout
    rows = table.stdout.splitlines()
    end = next(i for i, line in enumerate(rows) if line.startswith("│ hosts"))
    assert "Import " in rows[end - 1]  # the row ends with the last label (vApp > Import)

    document = sim.run("check", "prereqs", "--portgroup", "br-int", "-o", "json")
    found = {c["id"]: c for c in document.json()["checks"]}
    assert sorted(found["privileges"]["objects"]) == sorted(GUIDE_IDS)
    assert found["vnc-firewall"]["objects"] == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]
