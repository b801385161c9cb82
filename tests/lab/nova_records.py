"""Instance records in the lab's Nova, made through Nova's own objects as its conductor and
compute service would have made them; run by the python of the lab's Nova virtualenv with
the lab's nova.conf (labctl.create_nova_instances, labctl.delete_nova_instance), never by
vmwctl's. The lab runs no conductor and no compute service: nothing else writes them.

    nova_records.py CONF create < {"instances": [{uuid, name, project_id, user_id, node,
                                                   host, vm_state}, ...]}
    nova_records.py CONF delete < {"uuid": ..., "hard": false}

``create`` makes, for each (host, node) not known yet, the nova-compute service record and
the compute node (hypervisor_hostname = node, as Nova's VMware driver names a cluster:
``<moref>.<vCenter instanceUuid>``), then each instance in cell1 with that node's ``compute_id``
and an empty info cache, and its instance mapping in the API database. ``delete`` deletes
as Nova's API does (the row soft-deleted, vm_state deleted, the mapping queued for
delete); ``hard`` also removes the rows (as ``nova-manage db archive_deleted_rows --purge``
would). Answers one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys

from nova import config, context, objects
from nova.compute import power_state, vm_states
from nova.network import model as network_model

# A small cluster as the VMware driver reports one (its resources matter to nobody here).
NODE_RESOURCES = {"vcpus": 16, "memory_mb": 65536, "local_gb": 1024, "vcpus_used": 0,
                  "memory_mb_used": 0, "local_gb_used": 0,
                  "hypervisor_type": "VMware vCenter Server", "hypervisor_version": 7000000,
                  "cpu_info": "{}", "disk_available_least": 1024, "running_vms": 0}
# Every instance has a flavor (a copy in its extra record); the API's show reads it.
FLAVOR = {"id": 1, "flavorid": "lab.small", "name": "lab.small", "memory_mb": 512,
          "vcpus": 1, "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "rxtx_factor": 1.0,
          "vcpu_weight": 0, "disabled": False, "is_public": True, "extra_specs": {},
          "description": None}
POWER = {vm_states.ACTIVE: power_state.RUNNING, vm_states.STOPPED: power_state.SHUTDOWN,
         vm_states.PAUSED: power_state.PAUSED, vm_states.SUSPENDED: power_state.SUSPENDED}


def _cell1(ctxt):
    return next(cell for cell in objects.CellMappingList.get_all(ctxt)
                if not cell.is_cell0())


def _compute_node(cctxt, host: str, node: str):
    """The compute node of ``node`` (and its service), made when missing."""
    try:
        return objects.ComputeNode.get_by_host_and_nodename(cctxt, host, node)
    except Exception:  # ComputeHostNotFound: make it
        pass
    service = objects.Service.get_by_host_and_binary(cctxt, host, "nova-compute")
    if service is None:
        service = objects.Service(cctxt, host=host, binary="nova-compute", topic="compute",
                                  report_count=0)
        service.create()
    compute = objects.ComputeNode(cctxt, host=host, hypervisor_hostname=node,
                                  service_id=service.id, host_ip="127.0.0.1",
                                  **NODE_RESOURCES)
    compute.create()
    return compute


def create(ctxt, rows: list[dict]) -> dict:
    cell = _cell1(ctxt)
    created = []
    with context.target_cell(ctxt, cell) as cctxt:
        for row in rows:
            compute = _compute_node(cctxt, row["host"], row["node"])
            state = row.get("vm_state") or vm_states.ACTIVE
            instance = objects.Instance(
                cctxt, uuid=row["uuid"], display_name=row["name"], hostname=row["name"],
                project_id=row["project_id"], user_id=row["user_id"], host=row["host"],
                node=row["node"], compute_id=compute.id, vm_state=state, task_state=None,
                power_state=POWER.get(state, power_state.NOSTATE),
                availability_zone="nova", launched_on=row["host"],
                flavor=objects.Flavor(**FLAVOR), old_flavor=None, new_flavor=None,
                memory_mb=FLAVOR["memory_mb"], vcpus=FLAVOR["vcpus"],
                root_gb=FLAVOR["root_gb"], ephemeral_gb=FLAVOR["ephemeral_gb"],
                info_cache=objects.InstanceInfoCache(
                    network_info=network_model.NetworkInfo([])))
            instance.create()
            mapping = objects.InstanceMapping(ctxt, instance_uuid=row["uuid"],
                                              cell_mapping=cell,
                                              project_id=row["project_id"],
                                              user_id=row["user_id"],
                                              queued_for_delete=False)
            mapping.create()
            created.append({"uuid": instance.uuid, "compute_id": instance.compute_id,
                            "node": instance.node})
    return {"created": created}


def delete(ctxt, uuid: str, hard: bool) -> dict:
    mapping = objects.InstanceMapping.get_by_instance_uuid(ctxt, uuid)
    with context.target_cell(ctxt, mapping.cell_mapping) as cctxt:
        instance = objects.Instance.get_by_uuid(cctxt, uuid)
        instance.vm_state = vm_states.DELETED
        instance.task_state = None
        instance.power_state = power_state.NOSTATE
        instance.save()
        instance.destroy(hard_delete=hard)
    if hard:
        mapping.destroy()
    else:
        mapping.queued_for_delete = True
        mapping.save()
    return {"deleted": uuid, "hard": hard}


def main(argv: list[str]) -> int:
    conf, command = argv[1], argv[2]
    config.parse_args([argv[0]], default_config_files=[conf])
    objects.register_all()
    ctxt = context.get_admin_context()
    request = json.load(sys.stdin)
    if command == "create":
        answer = create(ctxt, request["instances"])
    elif command == "delete":
        answer = delete(ctxt, request["uuid"], bool(request.get("hard")))
    else:
        raise SystemExit(f"unknown command {command!r}")
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
