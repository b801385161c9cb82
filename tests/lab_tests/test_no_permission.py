"""A call the vCenter refuses for a missing privilege, from the lab's simulator to the error line.

The lab refuses MakeDirectory to a user without Datastore.FileManagement on the
datastore (docs/lab.md): the unprepared scenario's svc-nova@vsphere.local holds
only ReadOnly until it is granted the guide's role. vmwctl names the privilege
by the guide's label, the object by its name, and the remedy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from labimages import datastore_leftovers, iso_image, upload

from vmwctl.vsphere.faults import NoPermission, VSphereFault

pytestmark = pytest.mark.lab

DS = "LocalDS_0"
CACHE = "192.0.2.10_base"
USER = "svc-nova@vsphere.local"
PRIVILEGE = '"Datastore > Low level file operation" (Datastore.FileManagement)'
REMEDY = "see 'vmwctl check privileges'"


def datacenter(vc):
    return vc.content.rootFolder.childEntity[0]


def test_the_refused_call_raises_no_permission_naming_privilege_and_datastore(simulator) -> None:
    sim = simulator(scenario="unprepared")
    root = Path(sim.datastores[DS])
    vc = sim.connect()
    dc = datacenter(vc)
    [datastore] = [ds for ds in dc.datastore if ds.name == DS]
    manager = vc.content.fileManager

    sent = vc.request_count
    with pytest.raises(NoPermission) as raised:
        manager.MakeDirectory(f"[{DS}] refused", dc, True)

    error = raised.value
    assert isinstance(error, VSphereFault) and error.exit_code == 1
    assert error.method == "MakeDirectory" and error.user == USER
    assert error.privileges == ["Datastore.FileManagement"]
    assert error.fault.privilegeId == "Datastore.FileManagement"
    assert error.fault.object._moId == datastore._moId
    assert error.entity == f"datastore {DS}"
    assert error.message == (f"vCenter refused MakeDirectory: {USER} lacks the privilege "
                             f"{PRIVILEGE} on datastore {DS}; {REMEDY}")
    assert vc.request_count - sent == 2  # the call, and one read of the datastore's name
    assert not (root / "refused").exists()

    # Named by the caller, the operation replaces the method; the fault stays the same.
    told = error.during(f"creating [{DS}] refused")
    assert isinstance(told, NoPermission) and told.fault is error.fault
    assert told.message.startswith(f"vCenter refused creating [{DS}] refused: {USER} lacks")


def test_the_administrator_is_not_refused(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    vc = sim.connect()
    vc.content.fileManager.MakeDirectory(f"[{DS}] allowed", datacenter(vc), True)
    assert (root / "allowed").is_dir()


def test_a_refused_seed_exits_1_naming_the_privilege_until_the_role_is_granted(
        simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator(scenario="unprepared")
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, iso_image(tmp_path / "refused.iso"), "refused",
                      disk_format="iso")
    expected = (rf"vCenter refused creating \[{DS}\] vmware_temp/vmwctl-[0-9a-f-]+/{image_id}: "
                rf"{re.escape(USER)} lacks the privilege {re.escape(PRIVILEGE)} on datastore "
                rf"{DS}; {re.escape(REMEDY)}")

    human = sim.run("cache", "seed", image_id)
    assert human.exit_code == 1, human.stderr
    [line] = [x for x in human.stderr.splitlines() if x.startswith("Error")]
    assert re.fullmatch(rf"Error: {expected}", line), line

    as_json = sim.run("-o", "json", "cache", "seed", image_id)
    assert as_json.exit_code == 1, as_json.stderr
    error = as_json.json()["error"]
    assert error["exit_code"] == 1
    assert re.fullmatch(expected, error["message"]), error["message"]
    # Refused before anything was made: no leftovers, no cache folder.
    assert datastore_leftovers(root) == [] and not (root / CACHE).exists()

    # The simulator goes by the permissions: with the guide's role the same seed goes through.
    assert sim.run("role", "create", "--grant", USER).exit_code == 0
    seeded = sim.run("-o", "json", "cache", "seed", image_id)
    assert seeded.exit_code == 0, seeded.stderr
    assert seeded.json()[0]["outcome"] == "seeded"
    assert (root / CACHE / image_id / f"{image_id}.iso").is_file()
