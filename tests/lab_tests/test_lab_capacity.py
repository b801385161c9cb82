"""The lab simulator's capacity shapes, read back through pyVmomi as vmwctl reads.

-ha CLUSTER=POLICY (vSphere HA admission control: configurationEx.dasConfig and
summary.admissionControlInfo), -evc-mode CLUSTER=KEY (summary.currentEVCModeKey of the
cluster and of its hosts), -host-cpu HOST=MODEL[@EVCKEY] (summary.hardware.cpuModel,
hardware.cpuPkg, summary.maxEVCModeKey) and -host-memory HOST=USED_MB[/TOTAL_MB]
(summary.quickStats.overallMemoryUsage, summary.hardware.memorySize, hardware.memorySize)
give the simulator what vCenter shows and govmomi 0.24.2 lacks. Each is read with
property paths through a ContainerView (vmwctl.vsphere.inventory.collect), as vmwctl's
capacity checks read them, and a bad value stops the simulator before it serves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import refused_simulator_error
from pyVmomi import vim

from vmwctl.vsphere.inventory import ObjectRecord, collect
from vmwctl.vsphere.snapshot import read_inventory
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

MIB = 1024 * 1024
# 0.24.2's host template (simulator/esx/host_system.go), kept by default
DEFAULT_MODEL = "Intel(R) Core(TM) i7-3615QM CPU @ 2.30GHz"
DEFAULT_MAX_EVC = "intel-ivybridge"
DEFAULT_MEMORY = 4294430720
DEFAULT_USAGE_MB = 1404

HOST_PATHS = ["name", "parent", "summary.hardware.cpuModel", "summary.maxEVCModeKey",
              "summary.currentEVCModeKey", "summary.hardware.memorySize", "hardware.memorySize",
              "summary.quickStats.overallMemoryUsage", "hardware.cpuPkg", "vm"]
CLUSTER_PATHS = ["name", "configurationEx", "summary.currentEVCModeKey",
                 "summary.admissionControlInfo", "summary.totalMemory"]


def read(vc) -> tuple[dict[str, ObjectRecord], dict[str, ObjectRecord]]:
    """Hosts and clusters by name, read with property paths."""
    records = collect(vc, {vim.HostSystem: HOST_PATHS, vim.ClusterComputeResource: CLUSTER_PATHS})
    hosts = {r.get("name"): r for r in records if r.type == "HostSystem"}
    clusters = {r.get("name"): r for r in records if r.type == "ClusterComputeResource"}
    return hosts, clusters


def das(cluster: ObjectRecord):
    return cluster.get("configurationEx").dasConfig


def moids(refs) -> list[str]:
    return [ref._moId for ref in refs or []]


# ------------------------------------------------------------------ defaults

def test_without_flags_hosts_share_one_cpu_and_clusters_have_neither_ha_nor_evc(
        simulator) -> None:
    sim = simulator("-cluster", "2", "-standalone-host", "1")
    hosts, clusters = read(sim.connect())
    assert len(hosts) == 7
    for name, host in hosts.items():
        assert host.get("summary.hardware.cpuModel") == DEFAULT_MODEL, name
        assert {(p.description, p.vendor) for p in host.get("hardware.cpuPkg")} == {
            (DEFAULT_MODEL, "intel")}, name
        assert host.get("summary.maxEVCModeKey") == DEFAULT_MAX_EVC, name
        assert host.get("summary.currentEVCModeKey") is None, name
        assert host.get("summary.hardware.memorySize") == DEFAULT_MEMORY
        assert host.get("hardware.memorySize") == DEFAULT_MEMORY
        assert host.get("summary.quickStats.overallMemoryUsage") == DEFAULT_USAGE_MB
    for name, cluster in clusters.items():
        # 0.24.2's cluster: a dasConfig with nothing set (HA neither on nor off)
        config = das(cluster)
        assert (config.enabled, config.admissionControlEnabled,
                config.admissionControlPolicy) == (None, None, None), name
        assert cluster.get("summary.currentEVCModeKey") is None
        assert cluster.get("summary.admissionControlInfo") is None


# ------------------------------------------------------------------ -ha

def test_ha_admission_control_policies(simulator) -> None:
    sim = simulator("-cluster", "6",
                    "-ha", "DC0_C0=failover:DC0_C0_H2",
                    "-ha", "DC0_C1=failover:DC0_C1_H0,DC0_C1_H2",
                    "-ha", "DC0_C2=percentage:25,30",
                    "-ha", "DC0_C3=slots:1@500,1024",
                    "-ha", "DC0_C4=slots:2",
                    "-ha", "DC0_C5=disabled")
    hosts, clusters = read(sim.connect())
    host_moid = {name: h.moid for name, h in hosts.items()}

    for name in ("DC0_C0", "DC0_C1", "DC0_C2", "DC0_C3", "DC0_C4"):
        config = das(clusters[name])
        assert (config.enabled, config.admissionControlEnabled) == (True, True), name

    c0 = das(clusters["DC0_C0"]).admissionControlPolicy
    assert isinstance(c0, vim.cluster.FailoverHostAdmissionControlPolicy)
    assert moids(c0.failoverHosts) == [host_moid["DC0_C0_H2"]]
    assert c0.failoverLevel == 1
    c1 = das(clusters["DC0_C1"]).admissionControlPolicy
    assert moids(c1.failoverHosts) == [host_moid["DC0_C1_H0"], host_moid["DC0_C1_H2"]]
    assert c1.failoverLevel == 2
    # a failover host that runs VMs is yellow, as on vCenter
    info = clusters["DC0_C1"].get("summary.admissionControlInfo")
    assert isinstance(info, vim.cluster.FailoverHostAdmissionControlInfo)
    expected = {host_moid[n]: ("yellow" if hosts[n].get("vm") else "green")
                for n in ("DC0_C1_H0", "DC0_C1_H2")}
    assert {s.host._moId: s.status for s in info.hostStatus} == expected

    c2 = das(clusters["DC0_C2"]).admissionControlPolicy
    assert isinstance(c2, vim.cluster.FailoverResourcesAdmissionControlPolicy)
    assert (c2.cpuFailoverResourcesPercent, c2.memoryFailoverResourcesPercent,
            c2.failoverLevel) == (25, 30, 1)
    info = clusters["DC0_C2"].get("summary.admissionControlInfo")
    assert isinstance(info, vim.cluster.FailoverResourcesAdmissionControlInfo)
    # the model's VMs reserve nothing
    assert (info.currentCpuFailoverResourcesPercent,
            info.currentMemoryFailoverResourcesPercent) == (100, 100)

    c3 = das(clusters["DC0_C3"]).admissionControlPolicy
    assert isinstance(c3, vim.cluster.FailoverLevelAdmissionControlPolicy)
    assert c3.failoverLevel == 1
    assert isinstance(c3.slotPolicy, vim.cluster.FixedSizeSlotPolicy)
    assert (c3.slotPolicy.cpu, c3.slotPolicy.memory) == (500, 1024)
    c4 = das(clusters["DC0_C4"]).admissionControlPolicy
    assert isinstance(c4, vim.cluster.FailoverLevelAdmissionControlPolicy)
    assert (c4.failoverLevel, c4.slotPolicy) == (2, None)
    info = clusters["DC0_C4"].get("summary.admissionControlInfo")
    assert isinstance(info, vim.cluster.FailoverLevelAdmissionControlInfo)
    assert info.currentFailoverLevel == 2

    c5 = das(clusters["DC0_C5"])
    assert (c5.enabled, c5.admissionControlEnabled, c5.admissionControlPolicy) == (
        True, False, None)
    assert clusters["DC0_C5"].get("summary.admissionControlInfo") is None


def test_ha_without_admission_control_may_keep_a_policy(simulator) -> None:
    """disabled:POLICY: HA on, admission control off, the policy vCenter still returns."""
    sim = simulator("-ha", "DC0_C0=disabled:percentage:50,50")
    _, clusters = read(sim.connect())
    config = das(clusters["DC0_C0"])
    assert (config.enabled, config.admissionControlEnabled) == (True, False)
    assert isinstance(config.admissionControlPolicy,
                      vim.cluster.FailoverResourcesAdmissionControlPolicy)
    assert config.admissionControlPolicy.cpuFailoverResourcesPercent == 50
    assert clusters["DC0_C0"].get("summary.admissionControlInfo") is None


def test_vmwctl_snapshot_reads_ha_enabled(simulator) -> None:
    sim = simulator("-cluster", "2", "-ha", "DC0_C1=slots:1")
    inventory = read_inventory(sim.connect())
    assert {c.name: c.ha_enabled for c in inventory.clusters.values()} == {
        "DC0_C0": None, "DC0_C1": True}


# ------------------------------------------------------------------ EVC and CPUs

def test_evc_mode_and_host_cpus(simulator) -> None:
    broadwell = "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz"
    epyc = "AMD EPYC 7502 32-Core Processor"
    gold = "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"
    sim = simulator("-cluster", "2", "-evc-mode", "DC0_C0=intel-broadwell",
                    "-host-cpu", f"DC0_C0_H0={broadwell}@intel-broadwell",
                    "-host-cpu", f"DC0_C1_H0={epyc}@amd-zen2",
                    "-host-cpu", f"DC0_C1_H1={gold}")
    hosts, clusters = read(sim.connect())

    assert clusters["DC0_C0"].get("summary.currentEVCModeKey") == "intel-broadwell"
    assert clusters["DC0_C1"].get("summary.currentEVCModeKey") is None

    def cpu(name: str):
        host = hosts[name]
        return (host.get("summary.hardware.cpuModel"),
                {(p.description, p.vendor) for p in host.get("hardware.cpuPkg")},
                host.get("summary.maxEVCModeKey"), host.get("summary.currentEVCModeKey"))

    assert cpu("DC0_C0_H0") == (broadwell, {(broadwell, "intel")}, "intel-broadwell",
                                "intel-broadwell")
    # every host of the EVC cluster runs in its mode, whatever its CPU
    assert cpu("DC0_C0_H1") == (DEFAULT_MODEL, {(DEFAULT_MODEL, "intel")}, DEFAULT_MAX_EVC,
                                "intel-broadwell")
    assert cpu("DC0_C1_H0") == (epyc, {(epyc, "amd")}, "amd-zen2", None)
    # a model alone (its " @ " is part of it) keeps the default highest mode
    assert cpu("DC0_C1_H1") == (gold, {(gold, "intel")}, DEFAULT_MAX_EVC, None)
    assert cpu("DC0_C1_H2") == (DEFAULT_MODEL, {(DEFAULT_MODEL, "intel")}, DEFAULT_MAX_EVC,
                                None)

    # the whole summary says the same as its paths
    whole = {r.get("name"): r.get("summary")
             for r in collect(sim.connect(), {vim.HostSystem: ["name", "summary"]})}
    assert (whole["DC0_C0_H0"].hardware.cpuModel, whole["DC0_C0_H0"].maxEVCModeKey,
            whole["DC0_C0_H0"].currentEVCModeKey) == (broadwell, "intel-broadwell",
                                                      "intel-broadwell")
    cluster = collect(sim.connect(), {vim.ClusterComputeResource: ["name", "summary"]})
    assert {c.get("name"): c.get("summary").currentEVCModeKey for c in cluster} == {
        "DC0_C0": "intel-broadwell", "DC0_C1": None}


# ------------------------------------------------------------------ memory

def test_host_memory_stays_through_power_operations(simulator) -> None:
    sim = simulator("-host-memory", "DC0_C0_H0=6000/8192", "-host-memory", "DC0_C0_H1=3000")
    vc = sim.connect()
    hosts, clusters = read(vc)

    def memory(name: str) -> tuple[int, int, int]:
        host = hosts[name]
        return (host.get("summary.quickStats.overallMemoryUsage"),
                host.get("summary.hardware.memorySize"), host.get("hardware.memorySize"))

    assert memory("DC0_C0_H0") == (6000, 8192 * MIB, 8192 * MIB)
    assert memory("DC0_C0_H1") == (3000, DEFAULT_MEMORY, DEFAULT_MEMORY)
    assert memory("DC0_C0_H2") == (DEFAULT_USAGE_MB, DEFAULT_MEMORY, DEFAULT_MEMORY)
    # the cluster's total counts the new size (0.24.2 counted it when the host joined)
    assert clusters["DC0_C0"].get("summary.totalMemory") == 8192 * MIB + 2 * DEFAULT_MEMORY

    # vmwctl's snapshot reads the same
    inventory = read_inventory(vc)
    by_name = {h.name: h for h in inventory.hosts.values()}
    assert (by_name["DC0_C0_H0"].memory_bytes, by_name["DC0_C0_H0"].memory_usage_mb) == (
        8192 * MIB, 6000)

    # 0.24.2 does not recompute host quickStats on power operations: the values stay
    vms = [r.ref for r in collect(vc, {vim.VirtualMachine: ["runtime.host"]})
           if r.get("runtime.host")._moId == hosts["DC0_C0_H0"].moid]
    assert vms
    for vm in vms:
        wait_for_task(vc, vm.PowerOffVM_Task(), what="powering off")
    hosts, _ = read(vc)
    assert memory("DC0_C0_H0") == (6000, 8192 * MIB, 8192 * MIB)
    for vm in vms:
        wait_for_task(vc, vm.PowerOnVM_Task(), what="powering on")
    hosts, _ = read(vc)
    assert memory("DC0_C0_H0") == (6000, 8192 * MIB, 8192 * MIB)
    assert memory("DC0_C0_H1") == (3000, DEFAULT_MEMORY, DEFAULT_MEMORY)


# ------------------------------------------------------------------ bad flags

@pytest.mark.parametrize(("flags", "message"), [
    (["-ha", "DC0_C9=slots:1"], '-ha DC0_C9: no cluster "DC0_C9"'),
    (["-ha", "DC0_C0"], 'bad -ha "DC0_C0", expected CLUSTER=POLICY'),
    (["-ha", "DC0_C0=spare:1"], 'bad policy "spare:1", expected failover:HOST[,HOST...]'),
    (["-ha", "DC0_C0=failover:DC0_C9_H0"], 'failover host: no host "DC0_C9_H0"'),
    (["-cluster", "2", "-ha", "DC0_C0=failover:DC0_C1_H0"],
     "failover host DC0_C1_H0 is not in cluster DC0_C0"),
    (["-ha", "DC0_C0=failover:DC0_C0_H0,DC0_C0_H0"], "failover host DC0_C0_H0 given twice"),
    (["-ha", "DC0_C0=percentage:25"], "expected percentage:CPU,MEM with percentages 0 to 100"),
    (["-ha", "DC0_C0=percentage:25,101"], "expected percentage:CPU,MEM"),
    (["-ha", "DC0_C0=slots:0"], "expected slots:N[@CPU_MHZ,MEM_MB] with N 1 or more"),
    (["-ha", "DC0_C0=slots:1@500"], "expected slots:N@CPU_MHZ,MEM_MB with sizes above 0"),
    (["-ha", "DC0_C0=disabled:"], '-ha DC0_C0: bad policy "disabled:"'),
    (["-ha", "DC0_C0=slots:1", "-ha", "DC0_C0=slots:2"], "-ha DC0_C0 given twice"),
    (["-evc-mode", "DC0_C0=intel-broadwel"], 'unknown EVC mode "intel-broadwel"'),
    (["-evc-mode", "DC9_C0=intel-haswell"], '-evc-mode DC9_C0: no cluster "DC9_C0"'),
    (["-host-cpu", "DC0_C0_H7=Xeon"], '-host-cpu DC0_C0_H7: no host "DC0_C0_H7"'),
    (["-host-cpu", "DC0_C0_H0=Xeon@skylake"], '-host-cpu DC0_C0_H0: unknown EVC mode "skylake"'),
    (["-host-cpu", "DC0_C0_H0=@intel-skylake"], "expected HOST=MODEL[@EVCKEY]"),
    (["-host-memory", "DC0_C0_H0=lots"], "expected HOST=USED_MB[/TOTAL_MB] in whole MB"),
    (["-host-memory", "DC0_C0_H0=100/0"], "expected HOST=USED_MB[/TOTAL_MB] in whole MB"),
    (["-host-memory", "DC0_C0_H0=9000/8192"],
     "-host-memory DC0_C0_H0: 9000 MB in use is more than the host's 8192 MB"),
    (["-host-memory", "DC0_C0_H9=100"], '-host-memory DC0_C0_H9: no host "DC0_C0_H9"'),
])
def test_a_bad_capacity_flag_stops_the_simulator_with_a_clear_error(
        lab, tmp_path: Path, flags: list[str], message: str) -> None:
    assert message in refused_simulator_error(lab, tmp_path, flags)
