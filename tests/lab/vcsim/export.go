package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// ExportLease is the lease VirtualMachine.ExportVm returns, which 0.24.2 does
// not implement. It is 0.24.2's HttpNfcLease (its HttpNfcLeaseProgress as it
// is) registered in the lab's inventory, with the lab's own file map: the
// simulator keeps its leases' files unexported, so the export GET
// (/nfc/<lease>/disk-N.vmdk) is served by exportGet, which reads the VM's
// disk (a descriptor and its -flat extent, or a sparse file) and sends it
// converted to streamOptimized, as ESXi does.
type ExportLease struct {
	simulator.HttpNfcLease
	vm    types.ManagedObjectReference
	disks map[string]exportDisk // by targetId: disk-0.vmdk, ...
}

type exportDisk struct {
	file    string // local path of the disk's descriptor (or sparse file)
	adapter string
}

// exports are the export leases neither completed nor aborted, by lease id;
// failAfter is -export-fail-after (bytes of an export GET after which the
// lease fails; -1: never).
var (
	exportsMu       sync.Mutex
	exports               = map[string]*ExportLease{}
	exportFailAfter int64 = -1
)

// HttpNfcLeaseComplete ends the export: its URLs answer 404 from now on.
func (l *ExportLease) HttpNfcLeaseComplete(ctx *simulator.Context, req *types.HttpNfcLeaseComplete) soap.HasFault {
	l.end(types.HttpNfcLeaseStateDone)
	return l.HttpNfcLease.HttpNfcLeaseComplete(ctx, req)
}

// HttpNfcLeaseAbort ends the export as failed (vCenter's export task fails).
func (l *ExportLease) HttpNfcLeaseAbort(ctx *simulator.Context, req *types.HttpNfcLeaseAbort) soap.HasFault {
	l.end(types.HttpNfcLeaseStateError)
	return l.HttpNfcLease.HttpNfcLeaseAbort(ctx, req)
}

// end is called with the lease locked (the simulator holds its object's lock
// during a method).
func (l *ExportLease) end(state types.HttpNfcLeaseState) {
	exportsMu.Lock()
	delete(exports, l.Self.Value)
	exportsMu.Unlock()
	if l.State != types.HttpNfcLeaseStateError {
		l.State = state
	}
}

// exportVM answers VirtualMachine.ExportVm: a powered-on VM is refused with
// InvalidPowerState, a VM with an export under way with InvalidState (its
// lease blocks it, as on vCenter); otherwise a lease, ready at once, whose
// deviceUrl lists the VM's disks as ESXi does (targetId disk-N.vmdk). False
// leaves the call to the simulator (not a VM: ManagedObjectNotFound).
func exportVM(w http.ResponseWriter, req *types.ExportVm) bool {
	vm, ok := simulator.Map.Get(req.This).(*simulator.VirtualMachine)
	if !ok {
		return false
	}
	var fault types.BaseMethodFault
	var message string
	var lease *ExportLease
	simulator.Map.WithLock(vm, func() {
		if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			fault = &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff,
				ExistingState: vm.Runtime.PowerState}
			message = "The attempted operation cannot be performed in the current state (Powered on)."
			return
		}
		exportsMu.Lock()
		for _, other := range exports {
			if other.vm == vm.Self {
				fault = &types.InvalidState{}
				message = "The operation is not allowed in the current state: an export lease is held."
			}
		}
		exportsMu.Unlock()
		if fault != nil {
			return
		}
		lease = newExportLease(vm)
	})
	if fault != nil {
		log.Printf("ExportVm %s: %s", req.This, message)
		writeSOAP(w, http.StatusInternalServerError, struct{ Fault *soapFault }{&soapFault{
			Code:   "ServerFaultCode",
			String: message,
			Detail: struct{ Fault *faultDetail }{&faultDetail{Fault: fault}},
		}})
		return true
	}
	log.Printf("ExportVm %s: lease %s, %d disk(s)", req.This, lease.Self.Value, len(lease.disks))
	writeSOAP(w, http.StatusOK, struct{ Res *taskResponse }{&taskResponse{
		XMLName:   xml.Name{Space: "urn:" + vim25.Namespace, Local: "ExportVmResponse"},
		Returnval: lease.Self,
	}})
	return true
}

// newExportLease registers a ready lease on the VM's disks; vm is locked.
func newExportLease(vm *simulator.VirtualMachine) *ExportLease {
	lease := &ExportLease{vm: vm.Self, disks: map[string]exportDisk{}}
	lease.Self = types.ManagedObjectReference{Type: "HttpNfcLease"}
	lease.Info = &types.HttpNfcLeaseInfo{Entity: vm.Self, LeaseTimeout: 300}
	lease.State = types.HttpNfcLeaseStateReady
	simulator.Map.Put(lease)
	lease.Info.Lease = lease.Self

	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	for n, device := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		file := ""
		if backing, ok := device.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			file = localFile(backing.GetVirtualDeviceFileBackingInfo())
		}
		controller := devices.FindByKey(device.GetVirtualDevice().ControllerKey)
		name := fmt.Sprintf("disk-%d.vmdk", n)
		lease.disks[name] = exportDisk{file: file, adapter: controllerAdapter(controller)}
		key := fmt.Sprintf("/%s/%s", vm.Self.Value, devices.Name(device))
		if c, ok := controller.(types.BaseVirtualController); ok && device.GetVirtualDevice().UnitNumber != nil {
			key = fmt.Sprintf("/%s/%s%d:%d", vm.Self.Value, reflect.TypeOf(controller).Elem().Name(),
				c.GetVirtualController().BusNumber, *device.GetVirtualDevice().UnitNumber)
		}
		lease.Info.DeviceUrl = append(lease.Info.DeviceUrl, types.HttpNfcLeaseDeviceUrl{
			Key:       key,
			ImportKey: key,
			Url:       (&url.URL{Scheme: "https", Host: "*", Path: "/nfc/" + path.Join(lease.Self.Value, name)}).String(),
			Disk:      types.NewBool(true),
			TargetId:  name,
		})
	}
	exportsMu.Lock()
	exports[lease.Self.Value] = lease
	exportsMu.Unlock()
	return lease
}

// localFile is the local path of a disk's file on the simulator's datastore.
func localFile(info *types.VirtualDeviceFileBackingInfo) string {
	var file object.DatastorePath
	if !file.FromString(info.FileName) {
		return ""
	}
	var ds *simulator.Datastore
	if info.Datastore != nil {
		ds, _ = simulator.Map.Get(*info.Datastore).(*simulator.Datastore)
	}
	if ds == nil {
		ds = findDatastore(nil, file.Datastore)
	}
	if ds == nil {
		return ""
	}
	return filepath.Join(ds.Info.GetDatastoreInfo().Url, filepath.FromSlash(file.Path))
}

// exportGet serves GET /nfc/<lease>/<disk>: the disk converted to
// streamOptimized (qemu-img, once per version of the disk: converted), sent with its
// Content-Length. Not an export lease: the simulator's own ServeNFC; a lease
// completed or aborted, or a disk it does not have: 404. With
// -export-fail-after N the lease fails after N bytes, as when vCenter times a
// lease out: the connection is dropped and the lease's state becomes error.
func exportGet(next http.Handler, w http.ResponseWriter, r *http.Request) {
	id, name := path.Base(path.Dir(r.URL.Path)), path.Base(r.URL.Path)
	lease, known := simulator.Map.Get(types.ManagedObjectReference{Type: "HttpNfcLease", Value: id}).(*ExportLease)
	if !known {
		next.ServeHTTP(w, r)
		return
	}
	exportsMu.Lock()
	_, open := exports[id]
	disk, found := lease.disks[name]
	failAfter := exportFailAfter
	exportsMu.Unlock()
	if !open || !found {
		http.NotFound(w, r)
		return
	}
	stream, fault := converted(disk)
	if fault != nil {
		log.Printf("nfc GET %s: %s", disk.file, fault.message)
		http.Error(w, fault.message, http.StatusInternalServerError)
		return
	}
	f, err := os.Open(stream)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size(), 10))
	w.WriteHeader(http.StatusOK)
	var src io.Reader = f
	if failAfter >= 0 && failAfter < info.Size() {
		src = io.LimitReader(f, failAfter)
	}
	n, err := io.Copy(w, src)
	if err == nil && n < info.Size() {
		lease.fail(fmt.Sprintf("the lab failed the lease after %d bytes (-export-fail-after %d)", n, failAfter))
		log.Printf("nfc GET %s: lease %s failed after %d of %d bytes", disk.file, id, n, info.Size())
		panic(http.ErrAbortHandler) // drop the connection: the client reads a short body
	}
	log.Printf("nfc GET %s: sent %d bytes of streamOptimized data (%v)", disk.file, n, err)
}

// conversions holds the streamOptimized conversion of each exported disk,
// under the simulator's TMPDIR (the lab's datastore root, beside the
// datastores, never in one), for as long as the disk's files are unchanged.
// ESXi converts while it sends, at the speed of the transfer; qemu-img needs
// the whole file first, 25 s for a GiB of random data, which a lab export
// then pays once per disk rather than on every GET.
var (
	conversionsMu sync.Mutex
	conversions   = map[string]conversion{} // by the disk's descriptor path
)

type conversion struct {
	key  string // the disk's files' sizes and modification times, and its adapter
	file string
}

// converted is the disk as streamOptimized: the conversion made for the same
// files, or a new one (which replaces it; a GET still sending the old file
// reads it to its end).
func converted(disk exportDisk) (string, *diskError) {
	key := disk.adapter
	for _, name := range []string{disk.file, strings.TrimSuffix(disk.file, ".vmdk") + "-flat.vmdk"} {
		if info, err := os.Stat(name); err == nil {
			key += fmt.Sprintf("|%s %d %d", name, info.Size(), info.ModTime().UnixNano())
		}
	}
	conversionsMu.Lock()
	defer conversionsMu.Unlock()
	if known, ok := conversions[disk.file]; ok {
		if known.key == key && exists(known.file) {
			return known.file, nil
		}
		os.RemoveAll(filepath.Dir(known.file))
		delete(conversions, disk.file)
	}
	work, err := os.MkdirTemp("", "nfc-export-")
	if err != nil {
		return "", systemError(err.Error())
	}
	stream := filepath.Join(work, "disk.vmdk")
	if fault := qemuImg("convert", "-q", "-O", "vmdk", "-o",
		"subformat=streamOptimized,adapter_type="+qemuAdapterType(disk.adapter), disk.file, stream); fault != nil {
		os.RemoveAll(work)
		return "", fault
	}
	conversions[disk.file] = conversion{key: key, file: stream}
	return stream, nil
}

// removeConversions deletes every conversion, when the simulator stops.
func removeConversions() {
	conversionsMu.Lock()
	defer conversionsMu.Unlock()
	for _, known := range conversions {
		os.RemoveAll(filepath.Dir(known.file))
	}
}

// fail puts the lease in state error with a SystemError, as vCenter does
// when a lease times out.
func (l *ExportLease) fail(message string) {
	simulator.Map.WithLock(l, func() {
		l.State = types.HttpNfcLeaseStateError
		l.Error = &types.LocalizedMethodFault{Fault: &types.SystemError{Reason: message},
			LocalizedMessage: message}
	})
}

// serveExports answers GET /lab/exports: the export leases neither completed
// nor aborted, with their VM and state.
func serveExports(w http.ResponseWriter) {
	type open struct {
		Lease string `json:"lease"`
		VM    string `json:"vm"`
		State string `json:"state"`
	}
	list := []open{}
	var leases []*ExportLease
	exportsMu.Lock()
	for _, lease := range exports {
		leases = append(leases, lease)
	}
	exportsMu.Unlock()
	for _, lease := range leases {
		item := open{Lease: lease.Self.Value, VM: lease.vm.Value}
		simulator.Map.WithLock(lease, func() { item.State = string(lease.State) })
		list = append(list, item)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Lease < list[j].Lease })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
