package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The network shapes of a vCenter, as its PropertyCollector shows them:
// distributed port groups with a port binding type, on every host or on a
// switch that only some hosts join; opaque networks (NSX); standard vSwitch
// port groups; physical NICs with or without link. 0.24.2 gets several of
// these wrong, and the lab fixes them (settleNetworks):
//   - config.type of a DV port group is empty (vCenter: earlyBinding, "static
//     binding", unless told), config.uplink unset;
//   - a DV switch's config.host is empty (vCenter: one member per host);
//   - the network lists of hosts, clusters and datacenters share arrays
//     (cluster.network is datacenter.network[:1], host.network
//     cluster.network[:1]), so that appending to one overwrites another, and
//     hold a port group once per host that joined it;
//   - a standard network's and an opaque network's `host` are empty;
//   - an opaque network is missing from its datacenter's `network`;
//   - HostNetworkSystem.networkInfo is a second, different copy of the host's
//     config.network (no physical NICs, port groups listed by name);
//   - HostNetworkSystem.AddPortGroup creates a new Network object for every
//     host (DuplicateName on the second host) and puts it in no host's or
//     cluster's `network`; RemovePortGroup removes it from vCenter even when
//     other hosts still have it (LabNetworkSystem);
//   - a VM NIC backed by an opaque network puts an empty reference in the
//     VM's `network` (fixOpaqueNICs).

const (
	earlyBinding  = "earlyBinding"
	pnicKeyPrefix = "key-vim.host.PhysicalNic-"
	pgKeyPrefix   = "key-vim.host.PortGroup-"
)

// bindings are vCenter's values of DistributedVirtualPortgroup.config.type.
var bindings = []string{earlyBinding, "lateBinding", "ephemeral"}

// dvPortgroupSpec is one -portgroup: NAME[:BINDING][%HOST,HOST...].
type dvPortgroupSpec struct {
	name    string
	binding string
	hosts   []*simulator.HostSystem // nil: every host, on the datacenter's own switch
}

// parsePortgroupName is the NAME and BINDING of NAME[:BINDING]. A ':' may be
// part of a real name, so the text after the last one is a binding only when
// it is one of vCenter's values; when it looks like a misspelt one, it is an
// error rather than part of the name.
func parsePortgroupName(spec string) (name, binding string, err error) {
	name, binding = spec, earlyBinding
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		suffix := spec[i+1:]
		for _, known := range bindings {
			if suffix == known {
				name, binding = spec[:i], known
			}
		}
		if binding == earlyBinding && name == spec && looksLikeBinding(suffix) {
			return "", "", fmt.Errorf("bad port binding %q in -portgroup %q: use earlyBinding (static), "+
				"lateBinding (dynamic) or ephemeral", suffix, spec)
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("bad -portgroup %q: empty name, expected NAME[:BINDING][%%HOST,HOST...]", spec)
	}
	return name, binding, nil
}

func looksLikeBinding(text string) bool {
	lower := strings.ToLower(text)
	switch lower {
	case "", "static", "dynamic", "early", "late", "ephemeral", "earlybinding", "latebinding":
		return true
	}
	return strings.HasSuffix(lower, "binding")
}

// splitHosts cuts the host list after the last sep: the hosts named there
// (all must exist), or nil when the spec has none (every host).
func splitHosts(flag, spec, sep string) (string, []*simulator.HostSystem, error) {
	i := strings.LastIndex(spec, sep)
	if i < 0 {
		return spec, nil, nil
	}
	var hosts []*simulator.HostSystem
	seen := map[string]bool{}
	for _, name := range strings.Split(spec[i+len(sep):], ",") {
		if name == "" || seen[name] {
			return "", nil, fmt.Errorf("bad -%s %q: empty or repeated host name after %q", flag, spec, sep)
		}
		seen[name] = true
		host, err := hostNamed(name)
		if err != nil {
			return "", nil, fmt.Errorf("bad -%s %q: no host %q (hosts: %s)", flag, spec, name, strings.Join(hostNames(), ", "))
		}
		hosts = append(hosts, host)
	}
	return spec[:i], hosts, nil
}

// allHosts are the hosts by name (the registry's order changes from run to run).
func allHosts() []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, obj := range simulator.Map.All("HostSystem") {
		hosts = append(hosts, obj.(*simulator.HostSystem))
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts
}

func hostNames() []string {
	var names []string
	for _, host := range allHosts() {
		names = append(names, host.Name)
	}
	return names
}

func parseDVPortgroup(spec string) (dvPortgroupSpec, error) {
	rest, hosts, err := splitHosts("portgroup", spec, "%")
	if err != nil {
		return dvPortgroupSpec{}, err
	}
	name, binding, err := parsePortgroupName(rest)
	if err != nil {
		return dvPortgroupSpec{}, err
	}
	return dvPortgroupSpec{name: name, binding: binding, hosts: hosts}, nil
}

// hasPortgroup tells whether a -portgroup names this port group (the
// scenarios add br-int only when no flag shapes it otherwise).
func hasPortgroup(specs []string, name string) bool {
	for _, spec := range specs {
		rest := spec
		if i := strings.LastIndex(rest, "%"); i >= 0 {
			rest = rest[:i]
		}
		if got, _, err := parsePortgroupName(rest); err == nil && got == name {
			return true
		}
	}
	return false
}

// opaqueSpec is one -opaque-network: NAME[=ID][@TYPE][%HOST,HOST...].
type opaqueSpec struct {
	name, id, kind string
	hosts          []*simulator.HostSystem // nil: every host
}

func parseOpaqueNetwork(spec string) (opaqueSpec, error) {
	rest, hosts, err := splitHosts("opaque-network", spec, "%")
	if err != nil {
		return opaqueSpec{}, err
	}
	o := opaqueSpec{kind: "nsx.LogicalSwitch", hosts: hosts}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest, o.kind = rest[:i], rest[i+1:]
	}
	if i := strings.LastIndex(rest, "="); i >= 0 {
		rest, o.id = rest[:i], rest[i+1:]
	} else {
		o.id = rest
	}
	o.name = rest
	if o.name == "" || o.id == "" || o.kind == "" {
		return opaqueSpec{}, fmt.Errorf("bad -opaque-network %q: empty name, ID or type, "+
			"expected NAME[=ID][@TYPE][%%HOST,HOST...]", spec)
	}
	return o, nil
}

// pnicSpec is one -pnic: HOST=DEV[:down][,DEV[:down]...].
type pnicSpec struct {
	host    *simulator.HostSystem
	devices []string
	down    map[string]bool
}

func parsePnics(spec string) (pnicSpec, error) {
	hostName, list, found := strings.Cut(spec, "=")
	if !found {
		return pnicSpec{}, fmt.Errorf("bad -pnic %q, expected HOST=DEV[:down][,DEV[:down]...]", spec)
	}
	host, err := hostNamed(hostName)
	if err != nil {
		return pnicSpec{}, fmt.Errorf("bad -pnic %q: no host %q (hosts: %s)", spec, hostName, strings.Join(hostNames(), ", "))
	}
	p := pnicSpec{host: host, down: map[string]bool{}}
	if list == "" {
		return p, nil // a host without physical NICs
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(list, ",") {
		device, state, hasState := strings.Cut(item, ":")
		if device == "" || seen[device] || (hasState && state != "down") {
			return pnicSpec{}, fmt.Errorf("bad -pnic %q: NIC %q, expected DEV or DEV:down, each device once", spec, item)
		}
		seen[device] = true
		p.devices = append(p.devices, device)
		p.down[device] = hasState
	}
	return p, nil
}

// ------------------------------------------------------------------ applying the flags

// applyNetworks shapes the network side of the inventory after the flags.
func (s *State) applyNetworks(ctx context.Context, c *vim25.Client) error {
	prepareNetworks()
	hostsSeen := map[*simulator.HostSystem]bool{}
	for _, spec := range s.Pnics {
		p, err := parsePnics(spec)
		if err != nil {
			return err
		}
		if hostsSeen[p.host] {
			return fmt.Errorf("bad -pnic %q: host %s is given twice", spec, p.host.Name)
		}
		hostsSeen[p.host] = true
		setPnics(p)
	}
	for _, spec := range s.HostPortgroups {
		if err := addHostPortgroup(ctx, c, spec); err != nil {
			return err
		}
	}
	switches := simulator.Map.All("DistributedVirtualSwitch") // before any -portgroup adds one
	limited := map[string]*object.DistributedVirtualSwitch{}
	for _, spec := range s.Portgroups {
		pg, err := parseDVPortgroup(spec)
		if err != nil {
			return err
		}
		if err := addDVPortgroup(ctx, c, pg, switches, limited); err != nil {
			return fmt.Errorf("-portgroup %q: %v", spec, err)
		}
	}
	for _, spec := range s.OpaqueNetworks {
		o, err := parseOpaqueNetwork(spec)
		if err != nil {
			return err
		}
		if err := addOpaqueNetwork(o); err != nil {
			return fmt.Errorf("-opaque-network %q: %v", spec, err)
		}
	}
	settleNetworks()
	return nil
}

// prepareNetworks gives every host, compute resource and datacenter a network
// list of its own (0.24.2's share arrays), and every host a network system
// whose networkInfo is the host's config.network.
func prepareNetworks() {
	for _, host := range allHosts() {
		host.Network = unique(host.Network)
		wrapNetworkSystem(host)
	}
	for _, cr := range computeResources() {
		cr.Network = unique(cr.Network)
	}
	for _, obj := range simulator.Map.All("Datacenter") {
		dc := obj.(*simulator.Datacenter)
		dc.Network = unique(dc.Network)
	}
}

// unique is a new slice of refs without repeats, in order.
func unique(refs []types.ManagedObjectReference) []types.ManagedObjectReference {
	seen := map[types.ManagedObjectReference]bool{}
	out := []types.ManagedObjectReference{}
	for _, ref := range refs {
		if ref.Value != "" && !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	return out
}

func computeResources() []*mo.ComputeResource {
	var out []*mo.ComputeResource
	for _, obj := range simulator.Map.All("ComputeResource") {
		if cr, ok := obj.(*mo.ComputeResource); ok {
			out = append(out, cr)
		}
	}
	for _, obj := range simulator.Map.All("ClusterComputeResource") {
		out = append(out, &obj.(*simulator.ClusterComputeResource).ComputeResource)
	}
	return out
}

// updateNetworkInfo changes a copy of the host's network information and puts
// it in place as both config.network and its network system's networkInfo.
// Responses being written read the old one outside any lock, so it is never
// changed in place.
func updateNetworkInfo(host *simulator.HostSystem, change func(*types.HostNetworkInfo)) {
	simulator.Map.WithLock(host, func() {
		if host.Config == nil || host.Config.Network == nil {
			return
		}
		info := *host.Config.Network
		info.Vswitch = append([]types.HostVirtualSwitch(nil), info.Vswitch...)
		info.Portgroup = append([]types.HostPortGroup(nil), info.Portgroup...)
		info.Pnic = append([]types.PhysicalNic(nil), info.Pnic...)
		info.OpaqueNetwork = append([]types.HostOpaqueNetworkInfo(nil), info.OpaqueNetwork...)
		change(&info)
		host.Config.Network = &info
		if system := networkSystemOf(host); system != nil {
			system.NetworkInfo = &info
		}
	})
}

// addHostNetwork adds a network to the host's `network` (a new slice).
func addHostNetwork(host *simulator.HostSystem, ref types.ManagedObjectReference) {
	simulator.Map.WithLock(host, func() {
		host.Network = unique(append(append([]types.ManagedObjectReference(nil), host.Network...), ref))
	})
}

// setPnics makes the host's physical NICs exactly those asked for: each like
// the model's vmnic0 (driver, speeds), with its own PCI address and MAC, and
// no link speed when it is down, as ESXi reports a NIC without link. The
// standard switches keep only the uplinks that still exist.
func setPnics(p pnicSpec) {
	hostIndex := 0
	for i, name := range hostNames() {
		if name == p.host.Name {
			hostIndex = i
		}
	}
	updateNetworkInfo(p.host, func(info *types.HostNetworkInfo) {
		var template types.PhysicalNic
		if len(info.Pnic) > 0 {
			template = info.Pnic[0]
		}
		var nics []types.PhysicalNic
		keys := map[string]bool{}
		for i, device := range p.devices {
			nic := template
			nic.Device = device
			nic.Key = pnicKeyPrefix + device
			nic.Driver = "nvmxnet3"
			nic.Pci = fmt.Sprintf("0000:%02x:00.0", 0x0b+8*i)
			nic.Mac = fmt.Sprintf("00:0c:29:%02x:%02x:%02x", hostIndex>>8&0xff, hostIndex&0xff, 0xa0+i)
			nic.LinkSpeed = &types.PhysicalNicLinkInfo{SpeedMb: 10000, Duplex: true}
			if p.down[device] {
				nic.LinkSpeed = nil
			}
			if nic.FcoeConfiguration != nil {
				fcoe := *nic.FcoeConfiguration
				fcoe.SourceMac = nic.Mac
				nic.FcoeConfiguration = &fcoe
			}
			nics = append(nics, nic)
			keys[nic.Key] = true
		}
		info.Pnic = nics
		for i := range info.Vswitch {
			vswitch := &info.Vswitch[i]
			var uplinks []string
			for _, key := range vswitch.Pnic {
				if keys[key] {
					uplinks = append(uplinks, key)
				}
			}
			vswitch.Pnic = uplinks
			if bond, ok := vswitch.Spec.Bridge.(*types.HostVirtualSwitchBondBridge); ok {
				copied := *bond
				copied.NicDevice = nil
				for _, device := range bond.NicDevice {
					if keys[pnicKeyPrefix+device] {
						copied.NicDevice = append(copied.NicDevice, device)
					}
				}
				vswitch.Spec.Bridge = &copied
			}
		}
	})
}

// addHostPortgroup adds a standard port group NAME[@HOST,HOST...] on the
// first vSwitch of those hosts (default: every host), through the hosts'
// network systems as a client would.
func addHostPortgroup(ctx context.Context, c *vim25.Client, spec string) error {
	name, hosts, err := splitHosts("host-portgroup", spec, "@")
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("bad -host-portgroup %q: empty name, expected NAME[@HOST,HOST...]", spec)
	}
	if hosts == nil {
		hosts = allHosts()
	}
	for _, host := range hosts {
		if host.Config == nil || host.Config.Network == nil || len(host.Config.Network.Vswitch) == 0 {
			return fmt.Errorf("-host-portgroup %q: host %s has no standard switch", spec, host.Name)
		}
		system := object.NewHostNetworkSystem(c, *host.ConfigManager.NetworkSystem)
		err := system.AddPortGroup(ctx, types.HostPortGroupSpec{
			Name: name, VswitchName: host.Config.Network.Vswitch[0].Name, Policy: types.HostNetworkPolicy{},
		})
		if err != nil {
			return fmt.Errorf("-host-portgroup %q on %s: %v", spec, host.Name, err)
		}
	}
	return nil
}

// addDVPortgroup adds a distributed port group: on every host, on each
// datacenter's own switch (the model's); on some hosts only, on a switch that
// only those hosts join (one per set of hosts, DVS1, DVS2, ...), as a vCenter
// shows a port group that some hosts of a cluster lack.
func addDVPortgroup(ctx context.Context, c *vim25.Client, pg dvPortgroupSpec, switches []mo.Entity,
	limited map[string]*object.DistributedVirtualSwitch) error {
	config := []types.DVPortgroupConfigSpec{{Name: pg.name, Type: pg.binding}}
	var targets []*object.DistributedVirtualSwitch
	if pg.hosts == nil {
		if len(switches) == 0 {
			return fmt.Errorf("no distributed switch to add it to (the simulator runs with -pg 0)")
		}
		for _, obj := range switches {
			targets = append(targets, object.NewDistributedVirtualSwitch(c, obj.Reference()))
		}
	} else {
		dvs, err := limitedSwitch(ctx, c, pg.hosts, limited)
		if err != nil {
			return err
		}
		targets = append(targets, dvs)
	}
	for _, dvs := range targets {
		task, err := dvs.AddPortgroup(ctx, config)
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// limitedSwitch is the distributed switch that exactly these hosts join,
// created on first use in their datacenter.
func limitedSwitch(ctx context.Context, c *vim25.Client, hosts []*simulator.HostSystem,
	limited map[string]*object.DistributedVirtualSwitch) (*object.DistributedVirtualSwitch, error) {
	var names []string
	dc := datacenterOf(hosts[0])
	for _, host := range hosts {
		names = append(names, host.Name)
		if datacenterOf(host) != dc {
			return nil, fmt.Errorf("hosts %s and %s are in different datacenters", hosts[0].Name, host.Name)
		}
	}
	sort.Strings(names)
	key := strings.Join(names, ",")
	if dvs, ok := limited[key]; ok {
		return dvs, nil
	}
	var spec types.DVSCreateSpec
	spec.ConfigSpec = &types.VMwareDVSConfigSpec{}
	spec.ConfigSpec.GetDVSConfigSpec().Name = fmt.Sprintf("DVS%d", len(limited)+1)
	task, err := object.NewFolder(c, dc.NetworkFolder).CreateDVS(ctx, spec)
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return nil, err
	}
	dvs := object.NewDistributedVirtualSwitch(c, info.Result.(types.ManagedObjectReference))
	members := &types.DVSConfigSpec{}
	for _, host := range hosts {
		members.Host = append(members.Host, types.DistributedVirtualSwitchHostMemberConfigSpec{
			Operation: string(types.ConfigSpecOperationAdd), Host: host.Self,
		})
	}
	task, err = dvs.Reconfigure(ctx, members)
	if err != nil {
		return nil, err
	}
	if err := task.Wait(ctx); err != nil {
		return nil, err
	}
	limited[key] = dvs
	return dvs, nil
}

func datacenterOf(entity mo.Entity) *simulator.Datacenter {
	for entity != nil {
		if dc, ok := entity.(*simulator.Datacenter); ok {
			return dc
		}
		parent := entity.Entity().Parent
		if parent == nil {
			return nil
		}
		entity, _ = simulator.Map.Get(*parent).(mo.Entity)
	}
	return nil
}

// addOpaqueNetwork adds an OpaqueNetwork, as NSX makes one: one object per
// datacenter of its hosts, in their `network` and config.network.opaqueNetwork.
func addOpaqueNetwork(o opaqueSpec) error {
	hosts := o.hosts
	if hosts == nil {
		hosts = allHosts()
	}
	networks := map[*simulator.Datacenter]types.ManagedObjectReference{}
	for _, host := range hosts {
		dc := datacenterOf(host)
		if dc == nil {
			return fmt.Errorf("host %s is in no datacenter", host.Name)
		}
		ref, ok := networks[dc]
		if !ok {
			folder := simulator.Map.Get(dc.NetworkFolder).(*simulator.Folder)
			summary := types.OpaqueNetworkSummary{OpaqueNetworkId: o.id, OpaqueNetworkType: o.kind}
			summary.Name = o.name
			if err := folder.AddOpaqueNetwork(summary); err != nil {
				return err
			}
			ref = folder.ChildEntity[len(folder.ChildEntity)-1]
			networks[dc] = ref
		}
		addHostNetwork(host, ref)
		updateNetworkInfo(host, func(info *types.HostNetworkInfo) {
			info.OpaqueNetwork = append(info.OpaqueNetwork, types.HostOpaqueNetworkInfo{
				OpaqueNetworkId: o.id, OpaqueNetworkName: o.name, OpaqueNetworkType: o.kind,
			})
		})
	}
	return nil
}

// ------------------------------------------------------------------ keeping it consistent

// settleNetworks derives what vCenter derives from the hosts' networks and the
// switches, after the flags and after a client changed them (intercept):
// port binding types, switch members, the networks of clusters and
// datacenters, the hosts of networks, and the opaque networks of VM NICs.
func settleNetworks() {
	for _, obj := range simulator.Map.All("DistributedVirtualSwitch") {
		settleSwitch(obj.(*simulator.DistributedVirtualSwitch))
	}
	hostsOf := map[types.ManagedObjectReference][]types.ManagedObjectReference{}
	for _, host := range allHosts() {
		simulator.Map.WithLock(host, func() {
			host.Network = unique(host.Network)
			for _, ref := range host.Network {
				hostsOf[ref] = append(hostsOf[ref], host.Self)
			}
		})
	}
	for _, cr := range computeResources() {
		var networks []types.ManagedObjectReference
		for _, ref := range cr.Host {
			if host, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
				simulator.Map.WithLock(host, func() { networks = append(networks, host.Network...) })
			}
		}
		if len(cr.Host) > 0 {
			simulator.Map.WithLock(cr, func() { cr.Network = unique(networks) })
		}
	}
	for _, obj := range simulator.Map.All("Datacenter") {
		dc := obj.(*simulator.Datacenter)
		networks := folderNetworks(dc.NetworkFolder)
		simulator.Map.WithLock(dc, func() { dc.Network = networks })
	}
	for _, kind := range []string{"Network", "OpaqueNetwork"} {
		for _, obj := range simulator.Map.All(kind) {
			network := networkOf(obj)
			if network == nil {
				continue
			}
			hosts := unique(hostsOf[network.Self])
			simulator.Map.WithLock(obj, func() { network.Host = hosts })
		}
	}
	fixOpaqueNICs()
}

func networkOf(obj mo.Reference) *mo.Network {
	switch n := obj.(type) {
	case *mo.Network:
		return n
	case *mo.OpaqueNetwork:
		return &n.Network
	}
	return nil
}

// settleSwitch gives the switch's port groups a binding type (earlyBinding
// when none was asked for) and the uplink flag, and the switch one
// config.host member per host that joined it.
func settleSwitch(dvs *simulator.DistributedVirtualSwitch) {
	var uplinks []types.ManagedObjectReference
	for _, ref := range dvs.Portgroup {
		pg, ok := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup)
		if !ok {
			continue
		}
		uplink := strings.HasPrefix(pg.Name, dvs.Name+"-DVUplinks")
		if uplink {
			uplinks = append(uplinks, ref)
		}
		simulator.Map.WithLock(pg, func() {
			config := pg.Config
			if config.Type == "" {
				config.Type = earlyBinding
			}
			config.Uplink = types.NewBool(uplink)
			pg.Config = config
			pg.Host = unique(pg.Host)
		})
	}
	simulator.Map.WithLock(dvs, func() {
		info := dvs.Config.GetDVSConfigInfo()
		var members []types.DistributedVirtualSwitchHostMember
		for _, ref := range unique(dvs.Summary.HostMember) {
			host := ref
			members = append(members, types.DistributedVirtualSwitchHostMember{
				Config: types.DistributedVirtualSwitchHostMemberConfigInfo{
					Host:                &host,
					MaxProxySwitchPorts: 512,
					Backing:             &types.DistributedVirtualSwitchHostMemberPnicBacking{},
				},
				ProductInfo: dvs.Summary.ProductInfo,
				Status:      string(types.DistributedVirtualSwitchHostMemberHostComponentStateUp),
			})
		}
		config := *info
		config.Host = members
		config.UplinkPortgroup = uplinks
		switch c := dvs.Config.(type) {
		case *types.VMwareDVSConfigInfo:
			copied := *c
			copied.DVSConfigInfo = config
			dvs.Config = &copied
		case *types.DVSConfigInfo:
			dvs.Config = &config
		}
	})
}

// folderNetworks are the networks (standard, distributed port groups, opaque)
// in a network folder and its subfolders, as Datacenter.network lists them.
func folderNetworks(ref types.ManagedObjectReference) []types.ManagedObjectReference {
	folder, ok := simulator.Map.Get(ref).(*simulator.Folder)
	if !ok {
		return nil
	}
	out := []types.ManagedObjectReference{}
	for _, child := range folder.ChildEntity {
		switch child.Type {
		case "Network", "DistributedVirtualPortgroup", "OpaqueNetwork":
			out = append(out, child)
		case "Folder":
			out = append(out, folderNetworks(child)...)
		}
	}
	return out
}

// fixOpaqueNICs puts the opaque networks of VM NICs in the VMs' `network`:
// 0.24.2 puts an empty reference there for a NIC with an opaque network
// backing (and leaves it when the NIC is removed).
func fixOpaqueNICs() {
	for _, obj := range simulator.Map.All("VirtualMachine") {
		vm := obj.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() {
			if vm.Config == nil {
				return
			}
			var opaque []types.ManagedObjectReference
			names := map[int32]string{}
			for _, device := range vm.Config.Hardware.Device {
				card, ok := device.(types.BaseVirtualEthernetCard)
				if !ok {
					continue
				}
				backing, ok := card.GetVirtualEthernetCard().Backing.(*types.VirtualEthernetCardOpaqueNetworkBackingInfo)
				if !ok {
					continue
				}
				if network := findOpaqueNetwork(vm, backing); network != nil {
					opaque = append(opaque, network.Self)
					names[card.GetVirtualEthernetCard().Key] = network.Name
				}
			}
			needed := len(opaque) > 0
			var kept []types.ManagedObjectReference
			for _, ref := range vm.Network {
				if ref.Value == "" || ref.Type == "OpaqueNetwork" {
					needed = true
					continue
				}
				kept = append(kept, ref)
			}
			if !needed {
				return
			}
			vm.Network = unique(append(kept, opaque...))
			if len(names) > 0 {
				nics := append([]types.GuestNicInfo(nil), vm.Guest.Net...)
				for i := range nics {
					if name, ok := names[nics[i].DeviceConfigId]; ok {
						nics[i].Network = name
					}
				}
				vm.Guest.Net = nics
			}
		})
	}
}

func findOpaqueNetwork(vm *simulator.VirtualMachine, backing *types.VirtualEthernetCardOpaqueNetworkBackingInfo) *mo.OpaqueNetwork {
	dc := datacenterOf(vm)
	for _, obj := range simulator.Map.All("OpaqueNetwork") {
		network := obj.(*mo.OpaqueNetwork)
		summary, ok := network.Summary.(*types.OpaqueNetworkSummary)
		if ok && summary.OpaqueNetworkId == backing.OpaqueNetworkId &&
			summary.OpaqueNetworkType == backing.OpaqueNetworkType && datacenterOf(network) == dc {
			return network
		}
	}
	return nil
}

// ------------------------------------------------------------------ the hosts' network systems

// LabNetworkSystem is a host's HostNetworkSystem whose networkInfo is the
// host's config.network, and whose AddPortGroup and RemovePortGroup do what
// ESXi and vCenter do: a standard port group of the same name on several
// hosts is one Network object, in the `network` of each of those hosts (and
// so of their cluster and datacenter); it goes away from vCenter with the
// last host that has it. It embeds the simulator's system by value (the
// property collector wants the mo type first).
type LabNetworkSystem struct {
	simulator.HostNetworkSystem

	host *simulator.HostSystem
}

func wrapNetworkSystem(host *simulator.HostSystem) {
	if host.ConfigManager.NetworkSystem == nil || host.Config == nil || host.Config.Network == nil {
		return
	}
	current, ok := simulator.Map.Get(*host.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
	if !ok {
		return
	}
	system := &LabNetworkSystem{HostNetworkSystem: *current, host: host}
	system.NetworkInfo = host.Config.Network
	simulator.Map.Put(system)
}

func networkSystemOf(host *simulator.HostSystem) *LabNetworkSystem {
	if host.ConfigManager.NetworkSystem == nil {
		return nil
	}
	system, _ := simulator.Map.Get(*host.ConfigManager.NetworkSystem).(*LabNetworkSystem)
	return system
}

func (s *LabNetworkSystem) AddPortGroup(ctx *simulator.Context, req *types.AddPortGroup) soap.HasFault {
	body := &methods.AddPortGroupBody{}
	spec := req.Portgrp
	info := s.host.Config.Network
	vswitch := -1
	for i := range info.Vswitch {
		if info.Vswitch[i].Name == spec.VswitchName {
			vswitch = i
		}
	}
	switch {
	case spec.Name == "":
		body.Fault_ = simulator.Fault("A specified parameter was not correct: portgrp.name",
			&types.InvalidArgument{InvalidProperty: "portgrp.name"})
	case vswitch < 0:
		body.Fault_ = simulator.Fault(notFound, &types.NotFound{})
	case hostPortgroup(info, spec.Name) >= 0:
		body.Fault_ = simulator.Fault(fmt.Sprintf("The specified key, name, or identifier '%s' already exists.", spec.Name),
			&types.AlreadyExists{Name: spec.Name})
	}
	if body.Fault_ != nil {
		return body
	}
	folder := simulator.Map.Get(datacenterOf(s.host).NetworkFolder).(*simulator.Folder)
	existing := simulator.Map.FindByName(spec.Name, folder.ChildEntity)
	if existing == nil {
		// The simulator's own method creates the Network object (on a
		// scratch switch list: the host's is updated below).
		scratch := simulator.HostNetworkSystem{Host: &s.host.HostSystem}
		scratch.NetworkInfo = &types.HostNetworkInfo{Vswitch: []types.HostVirtualSwitch{{Name: spec.VswitchName}}}
		if res := scratch.AddPortGroup(ctx, req); res.Fault() != nil {
			return res
		}
		existing = simulator.Map.FindByName(spec.Name, folder.ChildEntity)
	} else if existing.Reference().Type != "Network" {
		body.Fault_ = simulator.Fault(fmt.Sprintf("The name '%s' already exists.", spec.Name),
			&types.DuplicateName{Name: spec.Name, Object: existing.Reference()})
		return body
	}
	key := pgKeyPrefix + spec.Name
	updateNetworkInfo(s.host, func(info *types.HostNetworkInfo) {
		sw := &info.Vswitch[vswitch]
		sw.Portgroup = append(append([]string(nil), sw.Portgroup...), key)
		pg := types.HostPortGroup{Key: key, Vswitch: sw.Key, Spec: spec}
		if sw.Spec.Policy != nil {
			pg.ComputedPolicy = *sw.Spec.Policy
		}
		info.Portgroup = append(info.Portgroup, pg)
	})
	addHostNetwork(s.host, existing.Reference())
	settleNetworks()
	body.Res = &types.AddPortGroupResponse{}
	return body
}

func (s *LabNetworkSystem) RemovePortGroup(ctx *simulator.Context, req *types.RemovePortGroup) soap.HasFault {
	body := &methods.RemovePortGroupBody{}
	if hostPortgroup(s.host.Config.Network, req.PgName) < 0 {
		body.Fault_ = simulator.Fault(notFound, &types.NotFound{})
		return body
	}
	key := pgKeyPrefix + req.PgName
	updateNetworkInfo(s.host, func(info *types.HostNetworkInfo) {
		info.Portgroup = append(info.Portgroup[:hostPortgroup(info, req.PgName)], info.Portgroup[hostPortgroup(info, req.PgName)+1:]...)
		for i := range info.Vswitch {
			var kept []string
			for _, pg := range info.Vswitch[i].Portgroup {
				if pg != key {
					kept = append(kept, pg)
				}
			}
			info.Vswitch[i].Portgroup = kept
		}
	})
	folder := simulator.Map.Get(datacenterOf(s.host).NetworkFolder).(*simulator.Folder)
	network := simulator.Map.FindByName(req.PgName, folder.ChildEntity)
	if network == nil || network.Reference().Type != "Network" {
		body.Res = &types.RemovePortGroupResponse{}
		return body
	}
	simulator.Map.WithLock(s.host, func() {
		networks := append([]types.ManagedObjectReference(nil), s.host.Network...)
		simulator.RemoveReference(&networks, network.Reference())
		s.host.Network = networks
	})
	stillUsed := false
	for _, host := range allHosts() {
		if datacenterOf(host) == datacenterOf(s.host) && simulator.FindReference(host.Network, network.Reference()) != nil {
			stillUsed = true
		}
	}
	if !stillUsed {
		scratch := simulator.HostNetworkSystem{Host: &s.host.HostSystem}
		scratch.NetworkInfo = &types.HostNetworkInfo{Vswitch: []types.HostVirtualSwitch{{Portgroup: []string{req.PgName}}}}
		if res := scratch.RemovePortGroup(ctx, req); res.Fault() != nil {
			return res
		}
	}
	settleNetworks()
	body.Res = &types.RemovePortGroupResponse{}
	return body
}

// notFound is ESXi's message with a NotFound fault.
const notFound = "The object or item referred to could not be found."

// hostPortgroup is the index of the host's standard port group of that name, or -1.
func hostPortgroup(info *types.HostNetworkInfo, name string) int {
	for i, pg := range info.Portgroup {
		if pg.Spec.Name == name {
			return i
		}
	}
	return -1
}
