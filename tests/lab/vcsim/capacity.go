package main

// What vCenter shows for capacity checks and 0.24.2 lacks:
//   - vSphere HA admission control on a cluster (-ha): configurationEx.dasConfig
//     with its policy (failover hosts, reserved percentages, slots), and the
//     cluster's summary.admissionControlInfo;
//   - EVC: a cluster's mode (-evc-mode, summary.currentEVCModeKey) and a host's
//     CPU model and highest mode (-host-cpu, summary.hardware.cpuModel,
//     summary.maxEVCModeKey); a host of an EVC cluster runs in its mode
//     (summary.currentEVCModeKey);
//   - a host's memory use and size (-host-memory).
//
// Every host gets a CPU model and a highest EVC mode by default, the same for
// all (defaultMaxEVCMode; 0.24.2's cpuModel, which is an Ivy Bridge), and its
// hardware.cpuPkg of its own (0.24.2's hosts share one array, whose
// description names another CPU than summary.hardware.cpuModel).
//
// 0.24.2 never recomputes a host's summary.quickStats (not on VM power
// operations either), so the values set here stay as set.

import (
	"flag"
	"fmt"
	"log"
	"sort"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// defaultMaxEVCMode is every host's summary.maxEVCModeKey unless -host-cpu
// gives another: the mode of 0.24.2's CPU model (Core i7-3615QM, Ivy Bridge).
const defaultMaxEVCMode = "intel-ivybridge"

// evcModes are the EVC mode keys of vSphere 6.7 to 8.0 (the `key` of
// capability.supportedEVCMode), oldest first per vendor.
var evcModes = []string{
	"intel-merom", "intel-penryn", "intel-nehalem", "intel-westmere", "intel-sandybridge",
	"intel-ivybridge", "intel-haswell", "intel-broadwell", "intel-skylake", "intel-cascadelake",
	"intel-icelake", "intel-sapphirerapids",
	"amd-rev-e", "amd-rev-f", "amd-greyhound-no3dnow", "amd-greyhound", "amd-bulldozer",
	"amd-piledriver", "amd-steamroller", "amd-zen", "amd-zen2", "amd-zen3", "amd-zen4",
}

// mebibyte is the unit of the flags' sizes, as vCenter's MB is.
const mebibyte = 1024 * 1024

var capacityFlags struct {
	ha, evcModes, hostCPUs, hostMemory listFlag
}

func init() {
	flag.Var(&capacityFlags.ha, "ha", "CLUSTER=POLICY: vSphere HA on with admission control, POLICY "+
		"failover:HOST[,HOST...] (dedicated failover hosts of the cluster), percentage:CPU,MEM (reserved "+
		"percentages), slots:N[@CPU_MHZ,MEM_MB] (host failures tolerated, fixed slot size), or disabled[:POLICY] "+
		"(HA on, admission control off) (repeatable, once per cluster)")
	flag.Var(&capacityFlags.evcModes, "evc-mode", "CLUSTER=KEY: the cluster's EVC mode, e.g. intel-broadwell; "+
		"its hosts run in it (summary.currentEVCModeKey) (repeatable, once per cluster)")
	flag.Var(&capacityFlags.hostCPUs, "host-cpu", "HOST=MODEL[@EVCKEY]: the host's CPU model and highest EVC mode "+
		"(default: 0.24.2's model, "+defaultMaxEVCMode+"); MODEL may hold \" @ \" as real models do "+
		"(repeatable, once per host)")
	flag.Var(&capacityFlags.hostMemory, "host-memory", "HOST=USED_MB[/TOTAL_MB]: the host's memory in use "+
		"(summary.quickStats.overallMemoryUsage) and size (repeatable, once per host)")
}

// applyCapacity shapes hosts and clusters from the flags; a bad value stops the
// simulator before it serves.
func applyCapacity() {
	if err := shapeCapacity(); err != nil {
		log.Fatalf("shaping the inventory: %v", err)
	}
}

func shapeCapacity() error {
	for _, obj := range simulator.Map.All("HostSystem") {
		defaultHostCPU(obj.(*simulator.HostSystem))
	}
	cpus, err := perName(capacityFlags.hostCPUs, "-host-cpu", "HOST=MODEL[@EVCKEY]")
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(cpus) {
		if err := setHostCPU(name, cpus[name]); err != nil {
			return err
		}
	}
	memory, err := perName(capacityFlags.hostMemory, "-host-memory", "HOST=USED_MB[/TOTAL_MB]")
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(memory) {
		if err := setHostMemory(name, memory[name]); err != nil {
			return err
		}
	}
	modes, err := perName(capacityFlags.evcModes, "-evc-mode", "CLUSTER=KEY")
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(modes) {
		if err := setEVCMode(name, modes[name]); err != nil {
			return err
		}
	}
	policies, err := perName(capacityFlags.ha, "-ha", "CLUSTER=POLICY")
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(policies) {
		if err := setHA(name, policies[name]); err != nil {
			return err
		}
	}
	return nil
}

// perName splits NAME=VALUE items into a map, refusing a NAME given twice.
func perName(items []string, flagName, syntax string) (map[string]string, error) {
	values := map[string]string{}
	for _, item := range items {
		name, value, found := strings.Cut(item, "=")
		if !found || name == "" || value == "" {
			return nil, fmt.Errorf("bad %s %q, expected %s", flagName, item, syntax)
		}
		if _, twice := values[name]; twice {
			return nil, fmt.Errorf("%s %s given twice", flagName, name)
		}
		values[name] = value
	}
	return values, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

func knownEVCMode(key string) error {
	for _, mode := range evcModes {
		if mode == key {
			return nil
		}
	}
	return fmt.Errorf("unknown EVC mode %q (known: %s)", key, strings.Join(evcModes, ", "))
}

// defaultHostCPU gives the host its own cpuPkg array, described as its
// summary's CPU model, and the default highest EVC mode.
func defaultHostCPU(host *simulator.HostSystem) {
	if host.Hardware != nil {
		host.Hardware.CpuPkg = append([]types.HostCpuPackage(nil), host.Hardware.CpuPkg...)
	}
	setCPUModel(host, host.Summary.Hardware.CpuModel)
	host.Summary.MaxEVCModeKey = defaultMaxEVCMode
}

func setCPUModel(host *simulator.HostSystem, model string) {
	host.Summary.Hardware.CpuModel = model
	if host.Hardware == nil {
		return
	}
	vendor := "intel"
	if strings.Contains(strings.ToUpper(model), "AMD") {
		vendor = "amd"
	}
	for i := range host.Hardware.CpuPkg {
		host.Hardware.CpuPkg[i].Description = model
		host.Hardware.CpuPkg[i].Vendor = vendor
	}
}

// setHostCPU applies MODEL[@EVCKEY]: the key follows the last "@" that is not
// followed by a space (real models read "... CPU @ 2.10GHz").
func setHostCPU(name, spec string) error {
	host, err := hostNamed(name)
	if err != nil {
		return fmt.Errorf("-host-cpu %s: %v", name, err)
	}
	model, key := spec, ""
	if at := strings.LastIndex(spec, "@"); at >= 0 && !strings.HasPrefix(spec[at+1:], " ") {
		model, key = spec[:at], spec[at+1:]
		if err := knownEVCMode(key); err != nil {
			return fmt.Errorf("-host-cpu %s: %v", name, err)
		}
	}
	if strings.TrimSpace(model) == "" {
		return fmt.Errorf("bad -host-cpu %s=%s, expected HOST=MODEL[@EVCKEY]", name, spec)
	}
	setCPUModel(host, model)
	if key != "" {
		host.Summary.MaxEVCModeKey = key
	}
	return nil
}

// setHostMemory applies USED_MB[/TOTAL_MB]; the compute resource's totals
// follow the host's size.
func setHostMemory(name, spec string) error {
	host, err := hostNamed(name)
	if err != nil {
		return fmt.Errorf("-host-memory %s: %v", name, err)
	}
	bad := fmt.Errorf("bad -host-memory %s=%s, expected HOST=USED_MB[/TOTAL_MB] in whole MB", name, spec)
	usedText, totalText, sized := strings.Cut(spec, "/")
	used, err := strconv.ParseInt(usedText, 10, 32)
	if err != nil || used < 0 {
		return bad
	}
	total := host.Summary.Hardware.MemorySize
	if sized {
		megabytes, err := strconv.ParseInt(totalText, 10, 64)
		if err != nil || megabytes <= 0 || megabytes > 1<<40 {
			return bad
		}
		total = megabytes * mebibyte
	}
	if used*mebibyte > total {
		return fmt.Errorf("-host-memory %s: %d MB in use is more than the host's %d MB", name, used, total/mebibyte)
	}
	host.Summary.QuickStats.OverallMemoryUsage = int32(used)
	if sized {
		host.Summary.Hardware.MemorySize = total
		if host.Hardware != nil {
			host.Hardware.MemorySize = total
		}
		recountMemory(host)
	}
	return nil
}

// recountMemory sets the totals of the host's compute resource again as 0.24.2
// first counted them (addComputeResource: bytes, also effectiveMemory).
func recountMemory(host *simulator.HostSystem) {
	if host.Parent == nil {
		return
	}
	var hosts []types.ManagedObjectReference
	var summary *types.ComputeResourceSummary
	switch parent := simulator.Map.Get(*host.Parent).(type) {
	case *simulator.ClusterComputeResource:
		hosts, summary = parent.Host, parent.Summary.GetComputeResourceSummary()
	default:
		return // a standalone host's ComputeResource: none of the lab's reads
	}
	summary.TotalMemory, summary.EffectiveMemory = 0, 0
	for _, ref := range hosts {
		if member, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
			summary.TotalMemory += member.Summary.Hardware.MemorySize
			summary.EffectiveMemory += member.Summary.Hardware.MemorySize
		}
	}
}

// clusterNamed is the one cluster of that name.
func clusterNamed(name string) (*simulator.ClusterComputeResource, error) {
	var found []*simulator.ClusterComputeResource
	for _, obj := range simulator.Map.All("ClusterComputeResource") {
		if cluster := obj.(*simulator.ClusterComputeResource); cluster.Name == name {
			found = append(found, cluster)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no cluster %q", name)
	case 1:
		return found[0], nil
	default:
		return nil, fmt.Errorf("%d clusters named %q", len(found), name)
	}
}

func clusterSummary(cluster *simulator.ClusterComputeResource) *types.ClusterComputeResourceSummary {
	summary, ok := cluster.Summary.(*types.ClusterComputeResourceSummary)
	if !ok {
		summary = &types.ClusterComputeResourceSummary{ComputeResourceSummary: *cluster.Summary.GetComputeResourceSummary()}
		cluster.Summary = summary
	}
	return summary
}

// setEVCMode sets the cluster's EVC mode and runs its hosts in it.
func setEVCMode(name, key string) error {
	cluster, err := clusterNamed(name)
	if err != nil {
		return fmt.Errorf("-evc-mode %s: %v", name, err)
	}
	if err := knownEVCMode(key); err != nil {
		return fmt.Errorf("-evc-mode %s: %v", name, err)
	}
	clusterSummary(cluster).CurrentEVCModeKey = key
	for _, host := range clusterHosts(cluster) {
		host.Summary.CurrentEVCModeKey = key
	}
	return nil
}

// setHA turns vSphere HA on in the cluster with the admission control POLICY.
func setHA(name, spec string) error {
	cluster, err := clusterNamed(name)
	if err != nil {
		return fmt.Errorf("-ha %s: %v", name, err)
	}
	admission := true
	policyText := spec
	if spec == "disabled" {
		admission, policyText = false, ""
	} else if strings.HasPrefix(spec, "disabled:") {
		admission, policyText = false, strings.TrimPrefix(spec, "disabled:")
		if policyText == "" {
			return fmt.Errorf("-ha %s: bad policy %q, expected %s", name, spec, policySyntax)
		}
	}
	das := &cluster.ConfigurationEx.(*types.ClusterConfigInfoEx).DasConfig
	das.Enabled = types.NewBool(true)
	das.AdmissionControlEnabled = types.NewBool(admission)
	das.HostMonitoring = string(types.ClusterDasConfigInfoServiceStateEnabled)
	das.VmMonitoring = string(types.ClusterDasConfigInfoVmMonitoringStateVmMonitoringDisabled)
	das.AdmissionControlPolicy = nil
	summary := clusterSummary(cluster)
	summary.AdmissionControlInfo = nil
	if policyText == "" {
		return nil
	}
	policy, level, err := parsePolicy(cluster, policyText)
	if err != nil {
		return fmt.Errorf("-ha %s: %v", name, err)
	}
	das.AdmissionControlPolicy = policy
	das.FailoverLevel = level
	if admission {
		summary.AdmissionControlInfo = admissionInfo(cluster, policy)
	}
	return nil
}

var policySyntax = "failover:HOST[,HOST...], percentage:CPU,MEM, slots:N[@CPU_MHZ,MEM_MB] or disabled[:POLICY]"

// parsePolicy reads an admission control policy and its failover level.
func parsePolicy(cluster *simulator.ClusterComputeResource, text string) (types.BaseClusterDasAdmissionControlPolicy, int32, error) {
	kind, args, _ := strings.Cut(text, ":")
	bad := fmt.Errorf("bad policy %q, expected %s", text, policySyntax)
	switch kind {
	case "failover":
		policy := &types.ClusterFailoverHostAdmissionControlPolicy{}
		for _, hostName := range strings.Split(args, ",") {
			host, err := hostNamed(hostName)
			if err != nil {
				return nil, 0, fmt.Errorf("failover host: %v", err)
			}
			if simulator.FindReference(cluster.Host, host.Self) == nil {
				return nil, 0, fmt.Errorf("failover host %s is not in cluster %s", hostName, cluster.Name)
			}
			if simulator.FindReference(policy.FailoverHosts, host.Self) != nil {
				return nil, 0, fmt.Errorf("failover host %s given twice", hostName)
			}
			policy.FailoverHosts = append(policy.FailoverHosts, host.Self)
		}
		policy.FailoverLevel = int32(len(policy.FailoverHosts))
		return policy, policy.FailoverLevel, nil
	case "percentage":
		cpuText, memText, found := strings.Cut(args, ",")
		cpu, cpuErr := strconv.ParseInt(cpuText, 10, 32)
		mem, memErr := strconv.ParseInt(memText, 10, 32)
		if !found || cpuErr != nil || memErr != nil || cpu < 0 || cpu > 100 || mem < 0 || mem > 100 {
			return nil, 0, fmt.Errorf("bad policy %q, expected percentage:CPU,MEM with percentages 0 to 100", text)
		}
		return &types.ClusterFailoverResourcesAdmissionControlPolicy{
			CpuFailoverResourcesPercent:    int32(cpu),
			MemoryFailoverResourcesPercent: int32(mem),
			FailoverLevel:                  1,
			AutoComputePercentages:         types.NewBool(false),
		}, 1, nil
	case "slots":
		levelText, slotText, fixed := strings.Cut(args, "@")
		level, err := strconv.ParseInt(levelText, 10, 32)
		if err != nil || level < 1 {
			return nil, 0, fmt.Errorf("bad policy %q, expected slots:N[@CPU_MHZ,MEM_MB] with N 1 or more", text)
		}
		policy := &types.ClusterFailoverLevelAdmissionControlPolicy{FailoverLevel: int32(level)}
		if fixed {
			cpuText, memText, found := strings.Cut(slotText, ",")
			cpu, cpuErr := strconv.ParseInt(cpuText, 10, 32)
			mem, memErr := strconv.ParseInt(memText, 10, 32)
			if !found || cpuErr != nil || memErr != nil || cpu <= 0 || mem <= 0 {
				return nil, 0, fmt.Errorf("bad policy %q, expected slots:N@CPU_MHZ,MEM_MB with sizes above 0", text)
			}
			policy.SlotPolicy = &types.ClusterFixedSizeSlotPolicy{Cpu: int32(cpu), Memory: int32(mem)}
		}
		return policy, policy.FailoverLevel, nil
	}
	return nil, 0, bad
}

// admissionInfo is the cluster's summary.admissionControlInfo under the
// policy, from the state at start (it is not recomputed later):
//   - failover hosts: each one's status, red when not connected or in
//     maintenance, yellow when a powered-on VM runs on it, green otherwise;
//   - percentages: the share of the cluster's CPU and memory that powered-on
//     VMs do not reserve (config.cpuAllocation, memoryAllocation);
//   - slots: the policy's failover level (the slots are not counted).
func admissionInfo(cluster *simulator.ClusterComputeResource, policy types.BaseClusterDasAdmissionControlPolicy) types.BaseClusterDasAdmissionControlInfo {
	switch policy := policy.(type) {
	case *types.ClusterFailoverHostAdmissionControlPolicy:
		info := &types.ClusterFailoverHostAdmissionControlInfo{}
		for _, ref := range policy.FailoverHosts {
			host := simulator.Map.Get(ref).(*simulator.HostSystem)
			status := types.ManagedEntityStatusGreen
			switch {
			case host.Runtime.ConnectionState != types.HostSystemConnectionStateConnected || host.Runtime.InMaintenanceMode:
				status = types.ManagedEntityStatusRed
			case len(poweredOnVMs(host)) > 0:
				status = types.ManagedEntityStatusYellow
			}
			info.HostStatus = append(info.HostStatus, types.ClusterFailoverHostAdmissionControlInfoHostStatus{Host: ref, Status: status})
		}
		return info
	case *types.ClusterFailoverResourcesAdmissionControlPolicy:
		var totalMHz, totalMB, cpuReserved, memReserved int64
		for _, host := range clusterHosts(cluster) {
			totalMHz += int64(host.Summary.Hardware.CpuMhz) * int64(host.Summary.Hardware.NumCpuCores)
			totalMB += host.Summary.Hardware.MemorySize / mebibyte
			for _, vm := range poweredOnVMs(host) {
				if vm.Config.CpuAllocation != nil && vm.Config.CpuAllocation.Reservation != nil {
					cpuReserved += *vm.Config.CpuAllocation.Reservation
				}
				if vm.Config.MemoryAllocation != nil && vm.Config.MemoryAllocation.Reservation != nil {
					memReserved += *vm.Config.MemoryAllocation.Reservation
				}
			}
		}
		return &types.ClusterFailoverResourcesAdmissionControlInfo{
			CurrentCpuFailoverResourcesPercent:    unreservedPercent(totalMHz, cpuReserved),
			CurrentMemoryFailoverResourcesPercent: unreservedPercent(totalMB, memReserved),
		}
	case *types.ClusterFailoverLevelAdmissionControlPolicy:
		return &types.ClusterFailoverLevelAdmissionControlInfo{CurrentFailoverLevel: policy.FailoverLevel}
	}
	return nil
}

func unreservedPercent(total, reserved int64) int32 {
	if total <= 0 {
		return 0
	}
	if reserved > total {
		reserved = total
	}
	return int32((total - reserved) * 100 / total)
}

func poweredOnVMs(host *simulator.HostSystem) []*simulator.VirtualMachine {
	var vms []*simulator.VirtualMachine
	for _, ref := range host.Vm {
		vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
		if ok && vm.Config != nil && vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			vms = append(vms, vm)
		}
	}
	return vms
}
