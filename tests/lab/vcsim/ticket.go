package main

// Consoles: VirtualMachine.AcquireTicket, which 0.24.2 lacks (MethodNotFound),
// and -host-version-of, a mixed cluster of ESXi versions (ESXi 7.0 and later
// have no VNC server: their consoles need MKS tickets).

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

var hostVersionsOf listFlag

func init() {
	flag.Var(&hostVersionsOf, "host-version-of", "HOST=VERSION: the ESXi version one host reports, e.g. "+
		"DC0_C0_H2=7.0.3, over -host-version (repeatable)")
}

// applyHostVersions gives the -host-version-of hosts their versions, as
// -host-version gives every host one; it runs after the inventory is shaped.
func applyHostVersions() {
	for _, spec := range hostVersionsOf {
		name, version, found := strings.Cut(spec, "=")
		if !found || version == "" {
			log.Fatalf("bad -host-version-of %q, expected HOST=VERSION", spec)
		}
		host, err := hostNamed(name)
		if err != nil {
			log.Fatalf("-host-version-of: %v", err)
		}
		product := *host.Summary.Config.Product
		product.Version = version
		product.FullName = "VMware ESXi " + version
		host.Summary.Config.Product = &product
		if host.Config != nil {
			host.Config.Product = product
		}
	}
}

// ticketPorts are the ports of the ticket types the lab hands out: the MKS
// and remote device tickets go to the host's authd (902), the WebSocket MKS
// ticket to its HTTPS port.
var ticketPorts = map[string]int32{"mks": 902, "device": 902, "webmks": 443}

// acquireTicket answers VirtualMachine.AcquireTicket as vCenter does: for a
// powered-on VM, a one-time ticket for the host running it, with the VM's
// configuration file as that host names it (/vmfs/volumes/<datastore>/...;
// ESXi's name for the volume is its UUID, and the datastore's name a link to
// it) and the thumbprint of the host's certificate (the lab's: its hosts
// have none of their own). A VM that is not powered on has no console: the
// vSphere API lists InvalidState among AcquireTicket's faults, and not
// InvalidPowerState (vSphere Web Services API reference, Fault InvalidState
// and Fault InvalidPowerState, "Thrown by"). A ticket type the lab does not
// know is an InvalidArgument. False when the object is not a VM (the
// simulator answers).
func acquireTicket(w http.ResponseWriter, req *types.AcquireTicket) bool {
	vm, ok := simulator.Map.Get(req.This).(*simulator.VirtualMachine)
	if !ok {
		return false
	}
	var fault types.BaseMethodFault
	var message string
	var ticket types.VirtualMachineTicket
	var host types.ManagedObjectReference
	port, known := ticketPorts[req.TicketType]
	simulator.Map.WithLock(vm, func() {
		switch {
		case !known:
			fault = &types.InvalidArgument{InvalidProperty: "ticketType"}
			message = "A specified parameter was not correct: ticketType"
		case vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || vm.Runtime.Host == nil:
			fault = &types.InvalidState{}
			message = "The operation is not allowed in the current state."
		default:
			ticket = types.VirtualMachineTicket{Ticket: newTicket(), CfgFile: hostPath(vm.Config.Files.VmPathName),
				Port: port, SslThumbprint: labThumbprint()}
			host = *vm.Runtime.Host
		}
	})
	if system, isHost := simulator.Map.Get(host).(*simulator.HostSystem); isHost {
		ticket.Host = system.Name
	}
	if fault != nil {
		log.Printf("AcquireTicket %s %s: %s", req.This, req.TicketType, message)
		writeSOAP(w, http.StatusInternalServerError, struct{ Fault *soapFault }{&soapFault{
			Code:   "ServerFaultCode",
			String: message,
			Detail: struct{ Fault *faultDetail }{&faultDetail{Fault: fault}},
		}})
		return true
	}
	writeSOAP(w, http.StatusOK, struct{ Res *ticketResponse }{&ticketResponse{
		XMLName:   xml.Name{Space: "urn:" + vim25.Namespace, Local: "AcquireTicketResponse"},
		Returnval: ticket,
	}})
	return true
}

type ticketResponse struct {
	XMLName   xml.Name
	Returnval types.VirtualMachineTicket `xml:"returnval"`
}

func newTicket() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostPath is "[ds] folder/name.vmx" as ESXi's shell names it.
func hostPath(datastorePath string) string {
	if strings.HasPrefix(datastorePath, "[") {
		if end := strings.Index(datastorePath, "]"); end > 0 {
			return "/vmfs/volumes/" + datastorePath[1:end] + "/" + strings.TrimSpace(datastorePath[end+1:])
		}
	}
	return datastorePath
}

var (
	thumbprintOnce sync.Once
	thumbprint     string
)

// labThumbprint is the SHA-1 thumbprint of the lab's certificate (-tlscert) as
// vSphere writes one: colon-separated uppercase hex.
func labThumbprint() string {
	thumbprintOnce.Do(func() {
		file := flag.Lookup("tlscert")
		if file == nil {
			return
		}
		data, err := ioutil.ReadFile(file.Value.String())
		if err != nil {
			log.Printf("reading the certificate: %v", err)
			return
		}
		block, _ := pem.Decode(data)
		if block == nil {
			return
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			log.Printf("parsing the certificate: %v", err)
			return
		}
		sum := sha1.Sum(block.Bytes)
		parts := make([]string, len(sum))
		for i, b := range sum {
			parts[i] = fmt.Sprintf("%02X", b)
		}
		thumbprint = strings.Join(parts, ":")
	})
	return thumbprint
}
