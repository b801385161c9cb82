package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// The network shapes of a vCenter, as its PropertyCollector shows them:
// distributed port groups with a port binding type, on every host or on a
// switch that only some hosts join. 0.24.2 gets several of these wrong, and
// the lab fixes them (settleNetworks):
//   - config.type of a DV port group is empty (vCenter: earlyBinding, "static
//     binding", unless told), config.uplink unset;
//   - a DV switch's config.host is empty (vCenter: one member per host);
//   - the network lists of hosts, clusters and datacenters share arrays
//     (cluster.network is datacenter.network[:1], host.network
//     cluster.network[:1]), so that appending to one overwrites another, and
//     hold a port group once per host that joined it;
//   - a standard network's `host` is empty.

const (
	earlyBinding = "earlyBinding"
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

// ------------------------------------------------------------------ applying the flags

// applyNetworks shapes the network side of the inventory after the flags.
func (s *State) applyNetworks(ctx context.Context, c *vim25.Client) error {
	prepareNetworks()
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
	settleNetworks()
	return nil
}

// prepareNetworks gives every host, compute resource and datacenter a network
// list of its own (0.24.2's share arrays).
func prepareNetworks() {
	for _, host := range allHosts() {
		host.Network = unique(host.Network)
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

// ------------------------------------------------------------------ keeping it consistent

// settleNetworks derives what vCenter derives from the hosts' networks and the
// switches, after the flags and after a client changed them (intercept):
// port binding types, switch members, the networks of clusters and
// datacenters, and the hosts of networks.
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
