package main

// Shapes of real vCenters (6.7, 7.0, 8.0, VMware Cloud) that the model lacks:
//   - vSphere Cluster Services VMs (-agent-vms), as 7.0 U1 and later create
//     them in every cluster, and an NSX-T edge appliance per datacenter; both
//     are VMs of a vCenter extension (config.managedBy);
//   - a cluster without hosts (-empty-cluster);
//   - VMs of other applications, neither Nova's nor an extension's
//     (-foreign-vms).
// Everything is made through the simulator's own API (in process), as a
// client would, and then given what only vCenter itself sets (managedBy).

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// The extensions that own VMs on real vCenters, and the one Nova marks its
// instances with (nova/virt/vmwareapi/vm_util.py, constants.py).
var (
	eamAgent  = types.ManagedByInfo{ExtensionKey: "com.vmware.vim.eam", Type: "cluster-agent"}
	nsxtEdge  = types.ManagedByInfo{ExtensionKey: "com.vmware.nsx.management.nsxt", Type: "Edge"}
	novaOwner = types.ManagedByInfo{ExtensionKey: "org.openstack.compute", Type: "instance"}
)

// Agent VM styles of -agent-vms: vCLS (1), vCLS (2), ... numbered across the
// vCenter (7.0 U1, U2), or vCLS-<uuid> (7.0 U3, 8.0).
const (
	agentStyleNumbered = "numbered"
	agentStyleUUID     = "uuid"
)

// agentsPerCluster is how many vCLS VMs vCenter runs in a cluster of three
// hosts or more; a smaller cluster has one per host.
const agentsPerCluster = 3

// below are the objects of type T under ref in inventory order (folders walked
// depth first), which is their order of creation.
func below[T any](ref types.ManagedObjectReference) []T {
	var found []T
	var walk func(ref types.ManagedObjectReference)
	walk = func(ref types.ManagedObjectReference) {
		switch obj := simulator.Map.Get(ref).(type) {
		case T:
			found = append(found, obj)
		case *simulator.Folder:
			for _, child := range obj.ChildEntity {
				walk(child)
			}
		}
	}
	walk(ref)
	return found
}

// datacenters are the datacenters in inventory order.
func datacenters() []*simulator.Datacenter {
	root := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance).Content.RootFolder
	return below[*simulator.Datacenter](root)
}

// clustersOf are the clusters of a datacenter in inventory order.
func clustersOf(dc *simulator.Datacenter) []*simulator.ClusterComputeResource {
	return below[*simulator.ClusterComputeResource](dc.HostFolder)
}

// clusterHosts are the hosts of a cluster, by name.
func clusterHosts(cluster *simulator.ClusterComputeResource) []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, ref := range cluster.Host {
		if host, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
			hosts = append(hosts, host)
		}
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts
}

// sharedDatastore is the first datastore (in the first host's order) that
// every host of the cluster mounts, accessible and out of maintenance: where
// vCenter and an administrator put a VM that may run on any of them.
func sharedDatastore(cluster *simulator.ClusterComputeResource) (*simulator.Datastore, error) {
	hosts := clusterHosts(cluster)
	if len(hosts) == 0 {
		return nil, fmt.Errorf("cluster %s has no hosts", cluster.Name)
	}
	for _, ref := range hosts[0].Datastore {
		ds, ok := simulator.Map.Get(ref).(*simulator.Datastore)
		if !ok || !ds.Summary.Accessible || ds.Summary.MaintenanceMode == "inMaintenance" {
			continue
		}
		everywhere := true
		for _, host := range hosts[1:] {
			if simulator.FindReference(host.Datastore, ref) == nil {
				everywhere = false
				break
			}
		}
		if everywhere {
			return ds, nil
		}
	}
	return nil, fmt.Errorf("no accessible datastore is mounted on every host of cluster %s", cluster.Name)
}

// newUUID is a random (version 4) UUID, lower case.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// vmSpec is a VM to create: where, how big, and whose.
// placement is a cluster with hosts, and a datastore all of them mount.
type placement struct {
	cluster   *simulator.ClusterComputeResource
	hosts     []*simulator.HostSystem
	datastore *simulator.Datastore
}

// placements are the clusters of dc that have hosts, in inventory order; flag
// names the option in the error when one has no datastore to place VMs on.
func placements(dc *simulator.Datacenter, flag string) ([]placement, error) {
	var found []placement
	for _, cluster := range clustersOf(dc) {
		hosts := clusterHosts(cluster)
		if len(hosts) == 0 {
			continue
		}
		ds, err := sharedDatastore(cluster)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", flag, err)
		}
		found = append(found, placement{cluster, hosts, ds})
	}
	return found, nil
}

type vmSpec struct {
	name      string
	folder    *object.Folder
	cluster   *simulator.ClusterComputeResource
	host      *simulator.HostSystem
	datastore *simulator.Datastore
	cpus      int32
	memoryMB  int64
	guestID   types.VirtualMachineGuestOsIdentifier
	managedBy *types.ManagedByInfo
}

// createVM creates the VM through CreateVM_Task, powers it on, and sets what
// vCenter shows of its owner in summary.config too.
func createVM(ctx context.Context, c *vim25.Client, spec vmSpec) error {
	config := types.VirtualMachineConfigSpec{
		Name:     spec.name,
		GuestId:  string(spec.guestID),
		NumCPUs:  spec.cpus,
		MemoryMB: spec.memoryMB,
		Files:    &types.VirtualMachineFileInfo{VmPathName: "[" + spec.datastore.Name + "]"},
	}
	if spec.managedBy != nil {
		owner := *spec.managedBy
		config.ManagedBy = &owner
	}
	pool := object.NewResourcePool(c, *spec.cluster.ResourcePool)
	host := object.NewHostSystem(c, spec.host.Self)
	task, err := spec.folder.CreateVM(ctx, config, pool, host)
	if err != nil {
		return fmt.Errorf("creating VM %s: %v", spec.name, err)
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return fmt.Errorf("creating VM %s: %v", spec.name, err)
	}
	ref := info.Result.(types.ManagedObjectReference)
	if _, err := object.NewVirtualMachine(c, ref).PowerOn(ctx); err != nil {
		return fmt.Errorf("powering on VM %s: %v", spec.name, err)
	}
	vm := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	simulator.Map.WithLock(vm, func() { vm.Summary.Config.ManagedBy = vm.Config.ManagedBy })
	return nil
}

// addAgentVMs gives every cluster with hosts its vCLS VMs, min(3, hosts),
// each on another host, in a vCLS folder of the datacenter's VM folder; and
// every datacenter an NSX-T edge on the first cluster with hosts.
func addAgentVMs(ctx context.Context, c *vim25.Client, style string) error {
	if style != agentStyleNumbered && style != agentStyleUUID {
		return fmt.Errorf("bad -agent-vms %q, expected %s or %s", style, agentStyleNumbered, agentStyleUUID)
	}
	number := 0
	for _, dc := range datacenters() {
		vmFolder := object.NewFolder(c, dc.VmFolder)
		var agentFolder *object.Folder
		edgeDone := false
		found, err := placements(dc, "-agent-vms")
		if err != nil {
			return err
		}
		for _, place := range found {
			cluster, hosts, ds := place.cluster, place.hosts, place.datastore
			if agentFolder == nil {
				if agentFolder, err = vmFolder.CreateFolder(ctx, "vCLS"); err != nil {
					return fmt.Errorf("-agent-vms: creating folder vCLS in %s: %v", dc.Name, err)
				}
			}
			for i := 0; i < len(hosts) && i < agentsPerCluster; i++ {
				number++
				name := fmt.Sprintf("vCLS (%d)", number)
				if style == agentStyleUUID {
					name = "vCLS-" + newUUID()
				}
				err := createVM(ctx, c, vmSpec{name: name, folder: agentFolder, cluster: cluster,
					host: hosts[i], datastore: ds, cpus: 1, memoryMB: 128,
					guestID: types.VirtualMachineGuestOsIdentifierVmwarePhoton64Guest, managedBy: &eamAgent})
				if err != nil {
					return err
				}
			}
			if !edgeDone {
				edgeDone = true
				err := createVM(ctx, c, vmSpec{name: "nsx-edge-01", folder: vmFolder, cluster: cluster,
					host: hosts[0], datastore: ds, cpus: 4, memoryMB: 8192,
					guestID: types.VirtualMachineGuestOsIdentifierUbuntu64Guest, managedBy: &nsxtEdge})
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// addForeignVMs adds n VMs of some other application (app-001, ...), round
// robin over the hosts of the first cluster with hosts, on its shared
// datastore, powered on, owned by nobody.
func addForeignVMs(ctx context.Context, c *vim25.Client, n int) error {
	if n < 0 {
		return fmt.Errorf("bad -foreign-vms %d, expected a count of 0 or more", n)
	}
	if n == 0 {
		return nil
	}
	for _, dc := range datacenters() {
		found, err := placements(dc, "-foreign-vms")
		if err != nil {
			return err
		}
		for _, place := range found {
			cluster, hosts, ds := place.cluster, place.hosts, place.datastore
			folder := object.NewFolder(c, dc.VmFolder)
			for i := 0; i < n; i++ {
				err := createVM(ctx, c, vmSpec{name: fmt.Sprintf("app-%03d", i+1), folder: folder,
					cluster: cluster, host: hosts[i%len(hosts)], datastore: ds, cpus: 1, memoryMB: 512,
					guestID: types.VirtualMachineGuestOsIdentifierOtherGuest64})
				if err != nil {
					return err
				}
			}
			return nil
		}
	}
	return fmt.Errorf("-foreign-vms: no cluster has hosts")
}

// addEmptyCluster creates a cluster without hosts in the first datacenter,
// with the DRS configuration of the datacenter's other clusters (the
// scenario's), and, like a vCenter's, no datastore and no network.
func addEmptyCluster(ctx context.Context, c *vim25.Client, name string) error {
	dcs := datacenters()
	if len(dcs) == 0 {
		return fmt.Errorf("-empty-cluster %s: no datacenter", name)
	}
	hostFolder := simulator.Map.Get(dcs[0].HostFolder).(*simulator.Folder)
	if simulator.Map.FindByName(name, hostFolder.ChildEntity) != nil {
		return fmt.Errorf("-empty-cluster %s: %s already has a host or cluster of that name", name, dcs[0].Name)
	}
	folder := object.NewFolder(c, dcs[0].HostFolder)
	created, err := folder.CreateCluster(ctx, name, types.ClusterConfigSpecEx{})
	if err != nil {
		return fmt.Errorf("-empty-cluster %s: %v", name, err)
	}
	cluster := simulator.Map.Get(created.Reference()).(*simulator.ClusterComputeResource)
	config := cluster.ConfigurationEx.(*types.ClusterConfigInfoEx)
	for _, other := range clustersOf(dcs[0]) {
		if other.Self == cluster.Self {
			continue
		}
		drs := other.ConfigurationEx.(*types.ClusterConfigInfoEx).DrsConfig
		config.DrsConfig.DefaultVmBehavior = drs.DefaultVmBehavior
		if drs.Enabled != nil {
			config.DrsConfig.Enabled = types.NewBool(*drs.Enabled)
		}
		break
	}
	// 0.24.2 gives a new cluster the datacenter's default network.
	cluster.Network = []types.ManagedObjectReference{}
	cluster.Datastore = []types.ManagedObjectReference{}
	return nil
}

// markNovaVMs marks every VM there is as Nova's: the extraConfig key Nova
// tags its instances with, and its extension as the VM's owner. VMs added
// later (-agent-vms, -foreign-vms) stay unmarked.
func markNovaVMs() {
	for _, obj := range simulator.Map.All("VirtualMachine") {
		vm := obj.(*simulator.VirtualMachine)
		if vm.Config == nil {
			continue
		}
		vm.Config.ExtraConfig = append(vm.Config.ExtraConfig,
			&types.OptionValue{Key: "nvp.vm-uuid", Value: vm.Config.InstanceUuid})
		owner := novaOwner
		vm.Config.ManagedBy = &owner
		vm.Summary.Config.ManagedBy = &owner
	}
}

// setConnectionState puts the host in a connection state (summary.runtime is
// the same object as runtime in the simulator).
func setConnectionState(names []string, state types.HostSystemConnectionState) error {
	for _, name := range names {
		host, err := hostNamed(name)
		if err != nil {
			return err
		}
		host.Runtime.ConnectionState = state
	}
	return nil
}
