package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// nfcUpload makes an NFC upload (ImportVApp, then PUT or POST of a disk to
// the lease's device URL /nfc/<lease>/<file>) write the disk as ESXi does,
// where 0.24.2's ServeNFC discards the body: the sparse or streamOptimized
// VMDK received becomes the imported VM's disk, converted to a descriptor and
// its -flat extent.
//
// The simulator keeps its leases unexported, so the lease is checked by
// handing the simulator the request without its body (404 for an unknown
// lease or file), and the disk is found among the VMs' disks by file name.
// The body is spooled to a folder next to the disk and converted there;
// the disk is replaced only once both files are written, so an upload cut
// short or not a VMDK leaves the disk as it was.
func nfcUpload(next http.Handler, w http.ResponseWriter, r *http.Request) {
	probe := r.Clone(r.Context())
	probe.Body = http.NoBody
	probe.ContentLength = 0
	recorder := httptest.NewRecorder()
	next.ServeHTTP(recorder, probe)
	if recorder.Code != http.StatusOK {
		http.Error(w, http.StatusText(recorder.Code), recorder.Code)
		return
	}

	name := path.Base(r.URL.Path)
	disks := importDisks(name)
	switch {
	case len(disks) == 0 || !strings.HasSuffix(name, ".vmdk"):
		// Not a disk (an ISO image of a CD-ROM, say): 0.24.2's behaviour.
		next.ServeHTTP(w, r)
		return
	case len(disks) > 1:
		http.Error(w, fmt.Sprintf("several VMs have a disk named %s; the lab cannot tell which one the lease imports", name),
			http.StatusConflict)
		return
	}
	disk := disks[0]

	work, err := os.MkdirTemp(filepath.Dir(disk.file), ".nfc-")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer os.RemoveAll(work)

	upload := filepath.Join(work, "upload")
	n, err := spool(upload, r.Body, r.ContentLength)
	if err != nil {
		log.Printf("nfc %s %s: upload cut short after %d bytes: %v", r.Method, disk.file, n, err)
		http.Error(w, fmt.Sprintf("reading the upload: %v", err), http.StatusBadRequest)
		return
	}
	if sparse, _ := isSparse(upload); !sparse {
		log.Printf("nfc %s %s: %d bytes, not a VMDK", r.Method, disk.file, n)
		http.Error(w, "the upload is not a streamOptimized or sparse VMDK", http.StatusInternalServerError)
		return
	}
	converted := filepath.Join(work, filepath.Base(disk.file))
	if fault := convertToFlat(upload, converted, disk.adapter); fault != nil {
		log.Printf("nfc %s %s: %s", r.Method, disk.file, fault.message)
		http.Error(w, fault.message, http.StatusInternalServerError)
		return
	}
	// The descriptor names its extent by base name, so the pair moves as one,
	// replacing the empty files the import created.
	for _, file := range []string{flatName(disk.file), disk.file} {
		if err := os.Rename(filepath.Join(work, filepath.Base(file)), file); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	log.Printf("nfc %s %s: converted %d bytes", r.Method, disk.file, n)
	w.WriteHeader(http.StatusOK)
}

// spool writes the body to file; a body shorter than its Content-Length (the
// client went away) is an error.
func spool(file string, body io.Reader, length int64) (int64, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, body)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil && length >= 0 && n != length {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// importDisk is a VM's disk file and the adapter its controller stands for.
type importDisk struct {
	file    string // local path of the descriptor
	adapter string
}

// importDisks are the disks of any VM whose file is named name.
func importDisks(name string) []importDisk {
	var found []importDisk
	for _, obj := range simulator.Map.All("VirtualMachine") {
		vm := obj.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() {
			if vm.Config == nil {
				return
			}
			devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
			for _, device := range devices.SelectByType((*types.VirtualDisk)(nil)) {
				backing, ok := device.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo)
				if !ok {
					continue
				}
				local := localFile(backing.GetVirtualDeviceFileBackingInfo())
				if local == "" || filepath.Base(local) != name {
					continue
				}
				found = append(found, importDisk{
					file:    local,
					adapter: controllerAdapter(devices.FindByKey(device.GetVirtualDevice().ControllerKey)),
				})
			}
		})
	}
	return found
}

// controllerAdapter is the descriptor adapter type a host writes for a disk
// on the controller.
func controllerAdapter(controller types.BaseVirtualDevice) string {
	switch controller.(type) {
	case *types.VirtualIDEController:
		return "ide"
	case *types.VirtualBusLogicController:
		return "buslogic"
	default:
		return "lsilogic"
	}
}
