// vmwctl-vcsim: the lab's vCenter, govmomi's simulator (0.24.2, from Debian)
// with the fixes and scenarios that vmwctl's tests need.
//
// It listens on a loopback address only, serves HTTPS with the certificate it
// is given, requires the given credentials, prints one JSON line describing
// itself on stdout once it is ready, and runs until SIGTERM or SIGINT.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
)

// Ready is what the simulator prints on stdout when it accepts connections.
type Ready struct {
	URL        string            `json:"url"`
	PID        int               `json:"pid"`
	Scenario   string            `json:"scenario"`
	Datastores map[string]string `json:"datastores"`
	// Clusters maps each cluster's name to its managed object id; with InstanceUUID (this
	// vCenter's about.instanceUuid) they make the compute node name Nova's VMware driver
	// gives a cluster: "<moref>.<instanceUuid>".
	Clusters     map[string]string `json:"clusters"`
	InstanceUUID string            `json:"instance_uuid"`
	// NovaVMs lists the VMs marked as Nova's (nvp.vm-uuid) that run in a cluster: the lab
	// makes their instance records.
	NovaVMs []NovaVM `json:"nova_vms"`
}

// NovaVM is a VM of Nova's: its instance UUID (nvp.vm-uuid), name and cluster.
type NovaVM struct {
	UUID    string `json:"uuid"`
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on (port 0 picks a free one)")
	certFile := flag.String("tlscert", "", "PEM certificate for HTTPS (required)")
	keyFile := flag.String("tlskey", "", "PEM private key for HTTPS (required)")
	username := flag.String("username", "", "the only user name accepted by Login (required)")
	password := flag.String("password", "", "the only password accepted by Login (required)")
	scenario := flag.String("scenario", "healthy", "inventory scenario: "+strings.Join(scenarioNames(), ", "))
	dc := flag.Int("dc", 1, "datacenters")
	cluster := flag.Int("cluster", 1, "clusters per datacenter")
	host := flag.Int("host", 3, "hosts per cluster")
	standalone := flag.Int("standalone-host", 0, "standalone hosts per datacenter")
	ds := flag.Int("ds", 1, "datastores per datacenter, mounted on every host")
	vm := flag.Int("vm", 2, "VMs per resource pool")
	pg := flag.Int("pg", 1, "distributed port groups per datacenter")
	delay := flag.Int("delay", 0, "milliseconds added to every SOAP call")
	methodDelay := flag.String("method-delay", "", "extra delay per method, e.g. RetrievePropertiesEx:5,Login:100")
	var state State
	flag.Var(&state.MaintenanceHosts, "maintenance-host", "host NAME in maintenance mode (repeatable)")
	flag.Var(&state.DisconnectedHosts, "disconnect-host", "host NAME disconnected (repeatable)")
	flag.Var(&state.NotRespondingHosts, "not-responding-host", "host NAME not responding: runtime.connectionState "+
		"notResponding, as when vCenter lost its heartbeats (repeatable)")
	flag.Var(&state.EmptyClusters, "empty-cluster", "cluster NAME without hosts (so without datastores or networks) "+
		"in the first datacenter, DRS configured as the other clusters (repeatable)")
	flag.StringVar(&state.AgentVMs, "agent-vms", "", "STYLE: vSphere Cluster Services VMs in every cluster with hosts, "+
		"min(3, hosts) on different hosts, managed by com.vmware.vim.eam (cluster-agent), in a vCLS folder, named "+
		"'vCLS (N)' across the vCenter (numbered: 7.0 U1/U2) or 'vCLS-<uuid>' (uuid: 7.0 U3, 8.0); and per "+
		"datacenter an NSX-T edge VM nsx-edge-01 managed by com.vmware.nsx.management.nsxt (Edge) (default: none)")
	flag.IntVar(&state.ForeignVMs, "foreign-vms", 0, "N VMs of another application, app-001 ..., not Nova's "+
		"(even with -nova-vms) nor an extension's, round robin on the first cluster's hosts, on its shared datastore, powered on")
	flag.Var(&state.MaintenanceDatastores, "maintenance-datastore", "datastore NAME in maintenance (repeatable)")
	flag.Var(&state.InaccessibleStores, "inaccessible-datastore", "datastore NAME inaccessible (repeatable)")
	flag.Var(&state.DatastoreTypes, "datastore-type", "NAME=TYPE, e.g. LocalDS_0=NFS (repeatable)")
	flag.Var(&state.ExtraDatastores, "add-datastore", "NAME=TYPE:HOST[,HOST], * for every host (repeatable)")
	flag.Var(&state.Portgroups, "portgroup", "distributed port group NAME[:BINDING][%HOST,HOST...]: BINDING earlyBinding "+
		"(default), lateBinding or ephemeral; on every host, or on a switch only those hosts join (repeatable)")
	flag.Var(&state.HostPortgroups, "host-portgroup", "standard (vSwitch) port group NAME[@HOST,HOST...], default on every host (repeatable)")
	flag.Var(&state.OpaqueNetworks, "opaque-network", "opaque (NSX) network NAME[=ID][@TYPE][%HOST,HOST...]: ID default NAME, "+
		"TYPE default nsx.LogicalSwitch, default on every host (repeatable)")
	flag.Var(&state.Pnics, "pnic", "HOST=DEV[:down][,DEV[:down]...]: exactly these physical NICs on the host, "+
		"without link when :down (repeatable, once per host)")
	flag.Var(&state.Rulesets, "firewall-ruleset", "inbound TCP ruleset ID=BEGIN-END[:disabled] on every host (repeatable)")
	flag.BoolVar(&state.NovaVMs, "nova-vms", false, "mark every VM of the model as Nova's: extraConfig nvp.vm-uuid, "+
		"config.managedBy org.openstack.compute (instance); not the -agent-vms and -foreign-vms VMs")
	flag.StringVar(&state.AboutVersion, "about-version", "", "the version the endpoint reports, e.g. 5.0.0")
	flag.StringVar(&state.APIType, "api-type", "", "the API type the endpoint reports: VirtualCenter or HostAgent")
	flag.StringVar(&state.HostVersion, "host-version", "", "the ESXi version every host reports, e.g. 7.0.3")
	flag.Var(&state.SecureBootHosts, "secure-boot-host", "host NAME with UEFI secure boot: its acceptance level cannot drop below partner (repeatable)")
	flag.StringVar(&state.InstanceUUID, "instance-uuid", "", "about.instanceUuid of this vCenter (default: a random one)")
	flag.StringVar(&state.Acceptance, "acceptance", "", "every host's image acceptance level: vmware_certified, vmware_accepted, partner (default) or community")
	var failMethods listFlag
	guestAfter := flag.Float64("guest-tools", -1, "seconds after power-on when a VM's guest reports Tools running, a heartbeat and an IP (default: never)")
	flag.Var(&failMethods, "fail-method", "METHOD or METHOD:N: fail every call of the method, or only its N-th (from 1), "+
		"with a SystemError; a _Task method returns a task that fails (repeatable)")
	flag.Int64Var(&exportFailAfter, "export-fail-after", -1, "BYTES: an export (ExportVm lease) GET stops after "+
		"BYTES bytes, the connection dropped and the lease in state error, as when vCenter times a lease out (default: never)")
	flag.Parse()

	apply, ok := scenarios[*scenario]
	if !ok {
		log.Fatalf("unknown scenario %q (known: %s)", *scenario, strings.Join(scenarioNames(), ", "))
	}
	if *certFile == "" || *keyFile == "" || *username == "" || *password == "" {
		log.Fatal("-tlscert, -tlskey, -username and -password are required")
	}
	if err := requireLoopback(*listen); err != nil {
		log.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatalf("loading TLS certificate: %v", err)
	}
	delays, err := parseMethodDelay(*methodDelay)
	if err != nil {
		log.Fatal(err)
	}
	faults, err := newFaultInjector(failMethods, *delay, delays)
	if err != nil {
		log.Fatal(err)
	}

	model := simulator.VPX()
	model.Datacenter = *dc
	model.Cluster = *cluster
	model.ClusterHost = *host
	model.Host = *standalone
	model.Datastore = *ds
	model.Machine = *vm
	model.Portgroup = *pg
	if err := model.Create(); err != nil {
		log.Fatalf("creating the inventory: %v", err)
	}

	installPagingCollector()
	state.UserRole = adminRole
	apply(&state)
	installAuthorization(*username, state.UserRole)
	installDiskManager()
	client, err := vim25.NewClient(context.Background(), model.Service)
	if err != nil {
		log.Fatalf("in-process client: %v", err)
	}
	if err := state.apply(context.Background(), client); err != nil {
		log.Fatalf("shaping the inventory: %v", err)
	}
	applyCapacity()
	applyHostVersions() // -host-version-of (ticket.go), over -host-version

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// Delays apply to requests from clients only, not to building the model.
	model.DelayConfig.Delay = *delay
	model.DelayConfig.MethodDelay = delays
	server := model.Service.NewServer()
	var guest *guestTools
	if *guestAfter >= 0 {
		guest = &guestTools{after: time.Duration(*guestAfter * float64(time.Second))}
	}
	server.Config.Handler = intercept(server.Config.Handler, faults, guest, newSessionGuard(),
		newPrivilegeGuard(), newCallLog())
	countConnections(server.Config)

	serverURL := *server.URL
	serverURL.User = nil
	ready := Ready{URL: serverURL.String(), PID: os.Getpid(), Scenario: *scenario, Datastores: datastoreDirs(),
		Clusters: clusterRefs(), InstanceUUID: instanceUUID(), NovaVMs: novaVMs()}
	line, _ := json.Marshal(ready)
	fmt.Println(string(line))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	// Exit at once: closing the server would wait for requests that an
	// injected delay keeps busy. Only the datastore directories need removing.
	model.Remove()
	for _, dir := range extraDirs {
		_ = os.RemoveAll(dir)
	}
	removeConversions()
	os.Exit(0)
}

func requireLoopback(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("bad -listen address %q: %v", address, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen must be a loopback IP address, got %q", host)
	}
	return nil
}

func parseMethodDelay(spec string) (map[string]int, error) {
	delays := map[string]int{}
	if spec == "" {
		return delays, nil
	}
	for _, item := range strings.Split(spec, ",") {
		name, ms, found := strings.Cut(item, ":")
		n, err := strconv.Atoi(ms)
		if !found || err != nil || n < 0 {
			return nil, fmt.Errorf("bad -method-delay item %q, expected Method:milliseconds", item)
		}
		delays[name] = n
	}
	return delays, nil
}

func datastoreDirs() map[string]string {
	dirs := map[string]string{}
	for _, obj := range simulator.Map.All("Datastore") {
		ds := obj.(*simulator.Datastore)
		dirs[ds.Name] = ds.Info.GetDatastoreInfo().Url
	}
	return dirs
}

func clusterRefs() map[string]string {
	refs := map[string]string{}
	for _, obj := range simulator.Map.All("ClusterComputeResource") {
		cluster := obj.(*simulator.ClusterComputeResource)
		refs[cluster.Name] = cluster.Self.Value
	}
	return refs
}

func novaVMs() []NovaVM {
	vms := []NovaVM{}
	for _, obj := range simulator.Map.All("VirtualMachine") {
		vm := obj.(*simulator.VirtualMachine)
		if vm.Config == nil || vm.Runtime.Host == nil {
			continue
		}
		uuid := ""
		for _, option := range vm.Config.ExtraConfig {
			if value := option.GetOptionValue(); value.Key == "nvp.vm-uuid" {
				uuid = fmt.Sprint(value.Value)
			}
		}
		host, ok := simulator.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem)
		if uuid == "" || !ok || host.Parent == nil || host.Parent.Type != "ClusterComputeResource" {
			continue
		}
		cluster := simulator.Map.Get(*host.Parent).(*simulator.ClusterComputeResource)
		vms = append(vms, NovaVM{UUID: uuid, Name: vm.Name, Cluster: cluster.Name})
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Name < vms[j].Name })
	return vms
}

func scenarioNames() []string {
	var names []string
	for name := range scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
