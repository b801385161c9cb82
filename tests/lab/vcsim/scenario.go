package main

import (
	"context"
	"fmt"
	"io/ioutil"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// State is what the flags ask for on top of the model and the scenario.
type State struct {
	MaintenanceHosts      listFlag
	DisconnectedHosts     listFlag
	NotRespondingHosts    listFlag
	EmptyClusters         listFlag
	AgentVMs              string // "", numbered or uuid
	ForeignVMs            int
	MaintenanceDatastores listFlag
	InaccessibleStores    listFlag
	DatastoreTypes        listFlag // NAME=TYPE
	ExtraDatastores       listFlag // NAME=TYPE:HOST[,HOST...] ("*" = every host)
	Portgroups            listFlag // NAME[:BINDING][%HOST,HOST...]
	HostPortgroups        listFlag // NAME[@HOST,HOST...]
	OpaqueNetworks        listFlag // NAME[=ID][@TYPE][%HOST,HOST...]
	Pnics                 listFlag // HOST=DEV[:down][,DEV[:down]...]
	Rulesets              listFlag // ID=BEGIN-END[:disabled]
	NovaVMs               bool
	AboutVersion          string
	InstanceUUID          string // about.instanceUuid; empty: a random one, as each vCenter has its own
	APIType               string
	HostVersion           string
	Acceptance            string   // every host's image acceptance level
	SecureBootHosts       listFlag // hosts whose acceptance level cannot drop below partner
	UserRole              int32    // the role of the login user's permission on the root folder
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// scenarios shape the inventory so that tests and the demo start from a known state.
var scenarios = map[string]func(*State){
	// healthy: what the configuration guide asks for is in place.
	"healthy": func(s *State) {
		setDRS(true, types.DrsBehaviorFullyAutomated)
		s.NovaVMs = true
		s.addDefaultPortgroup("br-int")
		s.Rulesets = append(s.Rulesets, "vnc=5900-6105")
	},
	// fresh: a cluster that still lacks what the guide asks for: DRS off, VMs
	// that Nova did not create, a datastore only one host mounts, no port group
	// for Neutron, no VNC ruleset in the hosts' firewalls.
	"fresh": func(s *State) {
		setDRS(false, types.DrsBehaviorManual)
		s.ExtraDatastores = append(s.ExtraDatastores, "nfs-partial=NFS:DC0_C0_H0")
	},
	// unprepared: the vCenter side is as the guide asks (DRS, shared storage,
	// the port group) except for the two steps vmwctl performs itself: the
	// account holds only ReadOnly (no role with the guide's privileges) and
	// the hosts' firewalls have no VNC ruleset. The demo starts here. The
	// simulator enforces only MakeDirectory's privilege (privileges.go), so
	// the same account can then create and grant the role, as an
	// administrator would.
	"unprepared": func(s *State) {
		setDRS(true, types.DrsBehaviorFullyAutomated)
		s.NovaVMs = true
		s.addDefaultPortgroup("br-int")
		s.UserRole = readOnlyRole
	},
}

// addDefaultPortgroup adds the scenario's port group on every host, unless a
// -portgroup shapes one of that name (another binding, some hosts only).
func (s *State) addDefaultPortgroup(name string) {
	if !hasPortgroup(s.Portgroups, name) {
		s.Portgroups = append(s.Portgroups, name)
	}
}

const (
	adminRole    int32 = -1
	readOnlyRole int32 = -2
)

func setDRS(enabled bool, behavior types.DrsBehavior) {
	for _, obj := range simulator.Map.All("ClusterComputeResource") {
		cluster := obj.(*simulator.ClusterComputeResource)
		config := cluster.ConfigurationEx.(*types.ClusterConfigInfoEx)
		config.DrsConfig.Enabled = types.NewBool(enabled)
		config.DrsConfig.DefaultVmBehavior = behavior
	}
}

// apply shapes the inventory through the simulator's own API (in process).
func (s *State) apply(ctx context.Context, c *vim25.Client) error {
	for _, name := range s.EmptyClusters {
		if err := addEmptyCluster(ctx, c, name); err != nil {
			return err
		}
	}
	for _, spec := range s.ExtraDatastores {
		if err := addDatastore(ctx, c, spec); err != nil {
			return err
		}
	}
	shareDatastores()
	for _, spec := range s.DatastoreTypes {
		name, kind, found := strings.Cut(spec, "=")
		if !found {
			return fmt.Errorf("bad -datastore-type %q, expected NAME=TYPE", spec)
		}
		ds, err := datastoreNamed(name)
		if err != nil {
			return err
		}
		ds.Summary.Type = kind
	}
	for _, name := range s.MaintenanceDatastores {
		ds, err := datastoreNamed(name)
		if err != nil {
			return err
		}
		ds.Summary.MaintenanceMode = "inMaintenance"
	}
	for _, name := range s.InaccessibleStores {
		ds, err := datastoreNamed(name)
		if err != nil {
			return err
		}
		// A real vCenter shows it on the datastore and on every host's mount.
		ds.Summary.Accessible = false
		for i := range ds.Host {
			ds.Host[i].MountInfo.Accessible = types.NewBool(false)
		}
	}
	for _, name := range s.MaintenanceHosts {
		host, err := hostNamed(name)
		if err != nil {
			return err
		}
		host.Runtime.InMaintenanceMode = true
	}
	if err := setConnectionState(s.DisconnectedHosts, types.HostSystemConnectionStateDisconnected); err != nil {
		return err
	}
	if err := setConnectionState(s.NotRespondingHosts, types.HostSystemConnectionStateNotResponding); err != nil {
		return err
	}
	separateFirewalls()
	for _, spec := range s.Rulesets {
		if err := addRuleset(spec); err != nil {
			return err
		}
	}
	if err := s.applyNetworks(ctx, c); err != nil {
		return err
	}
	if s.NovaVMs {
		markNovaVMs()
	}
	// After markNovaVMs: these VMs are never Nova's.
	if s.AgentVMs != "" {
		if err := addAgentVMs(ctx, c, s.AgentVMs); err != nil {
			return err
		}
	}
	if err := addForeignVMs(ctx, c, s.ForeignVMs); err != nil {
		return err
	}
	if s.HostVersion != "" {
		for _, obj := range simulator.Map.All("HostSystem") {
			host := obj.(*simulator.HostSystem)
			product := *host.Summary.Config.Product
			product.Version = s.HostVersion
			product.FullName = "VMware ESXi " + s.HostVersion
			host.Summary.Config.Product = &product
			if host.Config != nil {
				host.Config.Product = product
			}
		}
	}
	setAbout(s.AboutVersion, s.APIType, s.InstanceUUID)
	// After separateFirewalls: it wraps each host's firewall system.
	return installHostSoftware(s.Acceptance, s.SecureBootHosts)
}

func datastoreNamed(name string) (*simulator.Datastore, error) {
	for _, obj := range simulator.Map.All("Datastore") {
		if ds := obj.(*simulator.Datastore); ds.Name == name {
			return ds, nil
		}
	}
	return nil, fmt.Errorf("no datastore %q", name)
}

func hostNamed(name string) (*simulator.HostSystem, error) {
	for _, obj := range simulator.Map.All("HostSystem") {
		if host := obj.(*simulator.HostSystem); host.Name == name {
			return host, nil
		}
	}
	return nil, fmt.Errorf("no host %q", name)
}

// addDatastore creates a datastore (NAME=TYPE:HOST[,HOST]) mounted on the given hosts only.
func addDatastore(ctx context.Context, c *vim25.Client, spec string) error {
	name, rest, found := strings.Cut(spec, "=")
	kind, hostList, found2 := strings.Cut(rest, ":")
	if !found || !found2 {
		return fmt.Errorf("bad datastore %q, expected NAME=TYPE:HOST[,HOST]", spec)
	}
	dir, err := ioutil.TempDir("", "govcsim-"+name+"-")
	if err != nil {
		return err
	}
	extraDirs = append(extraDirs, dir)
	var hosts []*simulator.HostSystem
	if hostList == "*" {
		for _, obj := range simulator.Map.All("HostSystem") {
			hosts = append(hosts, obj.(*simulator.HostSystem))
		}
	} else {
		for _, hostName := range strings.Split(hostList, ",") {
			host, err := hostNamed(hostName)
			if err != nil {
				return err
			}
			hosts = append(hosts, host)
		}
	}
	for _, host := range hosts {
		dss, err := object.NewHostSystem(c, host.Self).ConfigManager().DatastoreSystem(ctx)
		if err != nil {
			return err
		}
		if _, err := dss.CreateLocalDatastore(ctx, name, dir); err != nil {
			return fmt.Errorf("creating datastore %s on %s: %v", name, host.Name, err)
		}
	}
	shareDatastores()
	ds, err := datastoreNamed(name)
	if err != nil {
		return err
	}
	ds.Summary.Type = kind
	return nil
}

// extraDirs are the directories of datastores added by the lab, removed at exit.
var extraDirs []string

// shareDatastores fixes two faults of the 0.24.2 model: a datastore mounted on
// several hosts lists only the last of them in Datastore.host, and its type is
// OTHER, which Nova's datastore filter rejects. Every host whose datastore list
// names the datastore is listed as a read-write, mounted, accessible mount, and
// a datastore still typed OTHER becomes VMFS.
func shareDatastores() {
	mounts := map[types.ManagedObjectReference][]types.DatastoreHostMount{}
	for _, obj := range simulator.Map.All("HostSystem") {
		host := obj.(*simulator.HostSystem)
		for _, ref := range host.Datastore {
			mounts[ref] = append(mounts[ref], types.DatastoreHostMount{
				Key: host.Self,
				MountInfo: types.HostMountInfo{
					Path:       "/vmfs/volumes/" + ref.Value,
					AccessMode: string(types.HostMountModeReadWrite),
					Mounted:    types.NewBool(true),
					Accessible: types.NewBool(true),
				},
			})
		}
	}
	for _, obj := range simulator.Map.All("Datastore") {
		ds := obj.(*simulator.Datastore)
		ds.Host = mounts[ds.Self]
		if ds.Summary.Type == string(types.HostFileSystemVolumeFileSystemTypeOTHER) {
			ds.Summary.Type = string(types.HostFileSystemVolumeFileSystemTypeVMFS)
		}
	}
}

// separateFirewalls gives every host its own firewall state, seen both by its
// HostFirewallSystem and as HostSystem.config.firewall. In 0.24.2 the firewall
// systems of all hosts share one ruleset array, and config.firewall is a
// separate copy that EnableRuleset never changes.
func separateFirewalls() {
	for _, obj := range simulator.Map.All("HostSystem") {
		host := obj.(*simulator.HostSystem)
		if host.Config == nil || host.Config.Firewall == nil || host.ConfigManager.FirewallSystem == nil {
			continue
		}
		info := *host.Config.Firewall
		info.Ruleset = make([]types.HostFirewallRuleset, len(host.Config.Firewall.Ruleset))
		for i, ruleset := range host.Config.Firewall.Ruleset {
			ruleset.Rule = append([]types.HostFirewallRule(nil), ruleset.Rule...)
			info.Ruleset[i] = ruleset
		}
		host.Config.Firewall = &info
		system := simulator.Map.Get(*host.ConfigManager.FirewallSystem).(*simulator.HostFirewallSystem)
		system.FirewallInfo = &info
	}
}

// addRuleset adds an inbound TCP ruleset ID=BEGIN-END[:disabled] to every host's firewall.
func addRuleset(spec string) error {
	id, rest, found := strings.Cut(spec, "=")
	ports, state, _ := strings.Cut(rest, ":")
	first, last, found2 := strings.Cut(ports, "-")
	begin, err1 := strconv.Atoi(first)
	end, err2 := strconv.Atoi(last)
	if !found || !found2 || err1 != nil || err2 != nil {
		return fmt.Errorf("bad ruleset %q, expected ID=BEGIN-END[:disabled]", spec)
	}
	for _, obj := range simulator.Map.All("HostSystem") {
		host := obj.(*simulator.HostSystem)
		if host.Config == nil || host.Config.Firewall == nil {
			continue
		}
		host.Config.Firewall.Ruleset = append(host.Config.Firewall.Ruleset, types.HostFirewallRuleset{
			Key:      id,
			Label:    id,
			Enabled:  state != "disabled",
			Required: false,
			Rule: []types.HostFirewallRule{{
				Port: int32(begin), EndPort: int32(end),
				Direction: types.HostFirewallRuleDirectionInbound,
				PortType:  types.HostFirewallRulePortTypeDst,
				Protocol:  "tcp",
			}},
			AllowedHosts: &types.HostFirewallRulesetIpList{AllIp: true},
		})
	}
	return nil
}

// instanceUUID is this vCenter's about.instanceUuid.
func instanceUUID() string {
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	return si.Content.About.InstanceUuid
}

func setAbout(version, apiType, instanceUUID string) {
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	about := &si.Content.About
	if instanceUUID == "" {
		instanceUUID = newUUID()
	}
	if about.ApiType == "VirtualCenter" || apiType == "VirtualCenter" {
		about.InstanceUuid = instanceUUID
	}
	if version != "" {
		about.Version = version
		about.ApiVersion = version[:strings.LastIndex(version, ".")]
		about.FullName = fmt.Sprintf("%s %s build-%s", about.Name, version, about.Build)
	}
	if apiType != "" {
		about.ApiType = apiType
		if apiType == "HostAgent" {
			about.Name = "VMware ESXi"
			about.ProductLineId = "embeddedEsx"
		}
	}
	vpx.ServiceContent.About = *about
}
