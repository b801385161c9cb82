package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// LabDiskManager makes VirtualDiskManager write the bytes an ESXi host writes,
// so that tests can read disks back from the datastore directories (0.24.2
// copies files byte for byte and creates empty ones):
//   - CopyVirtualDisk_Task converts a hosted sparse or streamOptimized source
//     (one file, "KDMV" magic) into an ESX disk: a descriptor and its -flat
//     extent. A descriptor and -flat pair is copied as it is, the descriptor's
//     extent renamed to the destination's -flat, as ESXi does;
//   - MoveVirtualDisk_Task renames the extent in a moved descriptor too;
//   - CreateVirtualDisk_Task writes a real disk of spec.capacityKb: a
//     descriptor naming <name>-flat.vmdk, and that extent;
//   - ExtendVirtualDisk_Task (which 0.24.2 lacks) grows such a disk: the
//     extent, sparse, and the descriptor's sector count and geometry.
//
// qemu-img does the conversions (monolithicFlat: the layout of an ESX disk).
// Faults carry a host's message; 0.24.2's tasks give the fault's Go type name.
type LabDiskManager struct {
	simulator.VirtualDiskManager
}

// installDiskManager registers the lab's manager under the singleton's
// reference: the SOAP handler and Map.VirtualDiskManager() look the object up
// there, so both reach the overrides. VM creation is unaffected: it calls the
// package's own function, which still creates empty disk files.
func installDiskManager() {
	original := simulator.Map.VirtualDiskManager().(*simulator.VirtualDiskManager)
	// Embedded by value: the property collector looks for the mo type in the
	// first field of a struct.
	simulator.Map.Put(&LabDiskManager{VirtualDiskManager: *original})
}

// diskError is a fault and the message a host gives with it.
type diskError struct {
	fault   types.BaseMethodFault
	message string
}

func fileNotFound(name string) *diskError {
	return &diskError{
		fault:   &types.FileNotFound{FileFault: types.FileFault{File: name}},
		message: fmt.Sprintf("File %s was not found", name),
	}
}

func fileExists(name string) *diskError {
	return &diskError{
		fault:   &types.FileAlreadyExists{FileFault: types.FileFault{File: name}},
		message: fmt.Sprintf("Cannot complete the operation because the file or folder %s already exists", name),
	}
}

func invalidArgument(property, message string) *diskError {
	return &diskError{fault: &types.InvalidArgument{InvalidProperty: property}, message: message}
}

func systemError(message string) *diskError {
	return &diskError{fault: &types.SystemError{Reason: message}, message: message}
}

// run runs op as a simulator Task of the manager (see runTask).
func (m *LabDiskManager) run(name string, op func() (types.AnyType, *diskError)) types.ManagedObjectReference {
	return runTask(m, name, op)
}

// runTask runs op as a simulator Task on obj, as 0.24.2's methods do, then
// gives the task's error the fault's message (0.24.2's is the fault's Go
// type name). An entity's task names it by its name, as vCenter does; the
// caller must not hold obj's lock.
func runTask(obj mo.Reference, name string, op func() (types.AnyType, *diskError)) types.ManagedObjectReference {
	var failure *diskError
	task := simulator.CreateTask(obj, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		result, err := op()
		if err != nil {
			failure = err
			return nil, err.fault
		}
		return result, nil
	})
	if entity, ok := obj.(mo.Entity); ok {
		simulator.Map.WithLock(obj, func() { task.Info.EntityName = entity.Entity().Name })
	}
	ref := task.Run()
	if failure != nil {
		simulator.Map.Update(task, []types.PropertyChange{{
			Name: "info.error",
			Val:  types.LocalizedMethodFault{Fault: failure.fault, LocalizedMessage: failure.message},
		}})
	}
	return ref
}

func (m *LabDiskManager) CopyVirtualDiskTask(_ *simulator.Context, req *types.CopyVirtualDisk_Task) soap.HasFault {
	ref := m.run("copyVirtualDisk", func() (types.AnyType, *diskError) {
		return nil, copyDisk(req)
	})
	return &methods.CopyVirtualDisk_TaskBody{Res: &types.CopyVirtualDisk_TaskResponse{Returnval: ref}}
}

func (m *LabDiskManager) MoveVirtualDiskTask(_ *simulator.Context, req *types.MoveVirtualDisk_Task) soap.HasFault {
	ref := m.run("moveVirtualDisk", func() (types.AnyType, *diskError) {
		return nil, moveDisk(req)
	})
	return &methods.MoveVirtualDisk_TaskBody{Res: &types.MoveVirtualDisk_TaskResponse{Returnval: ref}}
}

func (m *LabDiskManager) CreateVirtualDiskTask(ctx *simulator.Context, req *types.CreateVirtualDisk_Task) soap.HasFault {
	spec, ok := req.Spec.(*types.FileBackedVirtualDiskSpec)
	if !ok {
		// Device-backed (RDM) and SE sparse disks keep 0.24.2's behaviour.
		return m.VirtualDiskManager.CreateVirtualDiskTask(ctx, req)
	}
	ref := m.run("createVirtualDisk", func() (types.AnyType, *diskError) {
		if err := createDisk(req.Datacenter, req.Name, spec); err != nil {
			return nil, err
		}
		return req.Name, nil
	})
	return &methods.CreateVirtualDisk_TaskBody{Res: &types.CreateVirtualDisk_TaskResponse{Returnval: ref}}
}

func (m *LabDiskManager) ExtendVirtualDiskTask(_ *simulator.Context, req *types.ExtendVirtualDisk_Task) soap.HasFault {
	ref := m.run("extendVirtualDisk", func() (types.AnyType, *diskError) {
		return nil, extendDisk(req)
	})
	return &methods.ExtendVirtualDisk_TaskBody{Res: &types.ExtendVirtualDisk_TaskResponse{Returnval: ref}}
}

// diskFiles are the two files of a disk: "[ds] dir/x.vmdk" and x-flat.vmdk.
type diskFiles struct {
	name       string // the datastore path asked for
	dir        string // the datastore path of its folder
	descriptor string // local paths
	flat       string
}

// resolveDisk maps a datastore path ("[ds] a/x.vmdk", or "[ds]/a/x.vmdk") to
// local files. The datastore is looked up among the datacenter's, or among
// all datastores when no datacenter is given.
func resolveDisk(dc *types.ManagedObjectReference, name string) (diskFiles, *diskError) {
	end := strings.Index(name, "]")
	if !strings.HasPrefix(name, "[") || end < 0 {
		return diskFiles{}, invalidPath(name)
	}
	dsName := name[1:end]
	rel := strings.TrimLeft(strings.TrimSpace(name[end+1:]), "/")
	if rel == "" || !strings.HasSuffix(rel, ".vmdk") || contains(strings.Split(rel, "/"), "..") {
		return diskFiles{}, invalidPath(name)
	}
	rel = path.Clean(rel)
	ds := findDatastore(dc, dsName)
	if ds == nil {
		return diskFiles{}, &diskError{
			fault:   &types.InvalidDatastore{Name: dsName},
			message: fmt.Sprintf("Invalid datastore %s", dsName),
		}
	}
	local := filepath.Join(ds.Info.GetDatastoreInfo().Url, filepath.FromSlash(rel))
	return diskFiles{
		name:       name,
		dir:        fmt.Sprintf("[%s] %s", dsName, path.Dir(rel)),
		descriptor: local,
		flat:       flatName(local),
	}, nil
}

func invalidPath(name string) *diskError {
	return &diskError{
		fault:   &types.InvalidDatastorePath{DatastorePath: name},
		message: fmt.Sprintf("Invalid datastore path '%s'", name),
	}
}

// flatName is the extent of an ESX disk: x.vmdk -> x-flat.vmdk.
func flatName(descriptor string) string {
	return strings.TrimSuffix(descriptor, ".vmdk") + "-flat.vmdk"
}

func findDatastore(dc *types.ManagedObjectReference, name string) *simulator.Datastore {
	var refs []types.ManagedObjectReference
	if dc != nil {
		if datacenter, ok := simulator.Map.Get(*dc).(*simulator.Datacenter); ok {
			refs = datacenter.Datastore
		}
	} else {
		for _, obj := range simulator.Map.All("Datastore") {
			refs = append(refs, obj.Reference())
		}
	}
	for _, ref := range refs {
		if ds, ok := simulator.Map.Get(ref).(*simulator.Datastore); ok && ds.Name == name {
			return ds
		}
	}
	return nil
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}

// checkFolder is the fault a host gives when a disk's folder does not exist.
func checkFolder(disk diskFiles) *diskError {
	if info, err := os.Stat(filepath.Dir(disk.descriptor)); err != nil || !info.IsDir() {
		return fileNotFound(disk.dir)
	}
	return nil
}

// transfer resolves the source and destination of a copy or a move and
// checks them as a host does; with force, an existing destination is removed.
func transfer(srcDC *types.ManagedObjectReference, srcName string, dstDC *types.ManagedObjectReference,
	dstName string, force *bool) (diskFiles, diskFiles, *diskError) {
	src, err := resolveDisk(srcDC, srcName)
	if err != nil {
		return src, diskFiles{}, err
	}
	// Without a destination datacenter, a host uses the source's.
	if dstDC == nil {
		dstDC = srcDC
	}
	dst, err := resolveDisk(dstDC, dstName)
	if err != nil {
		return src, dst, err
	}
	if !exists(src.descriptor) {
		return src, dst, fileNotFound(src.name)
	}
	if err := checkFolder(dst); err != nil {
		return src, dst, err
	}
	if src.descriptor == dst.descriptor {
		return src, dst, invalidArgument("destName", "The source and the destination are the same disk")
	}
	if exists(dst.descriptor) || exists(dst.flat) {
		if force == nil || !*force {
			return src, dst, fileExists(dst.name)
		}
		_ = os.Remove(dst.descriptor)
		_ = os.Remove(dst.flat)
	}
	return src, dst, nil
}

func copyDisk(req *types.CopyVirtualDisk_Task) *diskError {
	src, dst, err := transfer(req.SourceDatacenter, req.SourceName, req.DestDatacenter, req.DestName, req.Force)
	if err != nil {
		return err
	}
	sparse, readErr := isSparse(src.descriptor)
	if readErr != nil {
		return systemError(fmt.Sprintf("Cannot read %s: %v", src.name, readErr))
	}
	if sparse {
		adapter := embeddedAdapterType(src.descriptor)
		if req.DestSpec != nil && req.DestSpec.GetVirtualDiskSpec().AdapterType != "" {
			adapter = req.DestSpec.GetVirtualDiskSpec().AdapterType
		}
		err = convertToFlat(src.descriptor, dst.descriptor, adapter)
		if err != nil {
			// qemu-img names local files; the client knows datastore paths.
			err.message = strings.NewReplacer(src.descriptor, src.name, dst.descriptor, dst.name).Replace(err.message)
		}
	} else {
		err = copyPair(src, dst)
	}
	if err != nil {
		_ = os.Remove(dst.descriptor)
		_ = os.Remove(dst.flat)
	}
	return err
}

// moveDisk moves a disk; a descriptor and -flat pair gets its extent renamed
// (0.24.2 renames both files, leaving the descriptor naming the old -flat).
func moveDisk(req *types.MoveVirtualDisk_Task) *diskError {
	src, dst, err := transfer(req.SourceDatacenter, req.SourceName, req.DestDatacenter, req.DestName, req.Force)
	if err != nil {
		return err
	}
	sparse, readErr := isSparse(src.descriptor)
	if readErr != nil {
		return systemError(fmt.Sprintf("Cannot read %s: %v", src.name, readErr))
	}
	if sparse {
		// A hosted sparse disk is one file.
		if err := os.Rename(src.descriptor, dst.descriptor); err != nil {
			return systemError(err.Error())
		}
		return nil
	}
	if !exists(src.flat) {
		return fileNotFound(strings.TrimSuffix(src.name, ".vmdk") + "-flat.vmdk")
	}
	descriptor, readErr := os.ReadFile(src.descriptor)
	if readErr != nil {
		return systemError(readErr.Error())
	}
	if err := os.Rename(src.flat, dst.flat); err != nil {
		return systemError(err.Error())
	}
	descriptor = renameExtent(descriptor, filepath.Base(src.flat), filepath.Base(dst.flat))
	if err := os.WriteFile(dst.descriptor, descriptor, 0o600); err != nil {
		_ = os.Rename(dst.flat, src.flat)
		return systemError(err.Error())
	}
	_ = os.Remove(src.descriptor)
	return nil
}

// sparseMagic starts a hosted sparse or streamOptimized VMDK (one file).
var sparseMagic = []byte("KDMV")

func isSparse(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	magic := make([]byte, len(sparseMagic))
	if _, err := io.ReadFull(f, magic); err != nil {
		// Shorter than a header (the simulator's VMs have empty descriptors).
		return false, nil
	}
	return bytes.Equal(magic, sparseMagic), nil
}

var adapterTypeLine = regexp.MustCompile(`(?m)^\s*ddb\.adapterType\s*=\s*"([^"]*)"`)

// embeddedAdapterType reads ddb.adapterType from the descriptor embedded in a
// sparse VMDK; its header gives the descriptor's offset and size in sectors.
func embeddedAdapterType(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	header := make([]byte, 44)
	if _, err := io.ReadFull(f, header); err != nil {
		return ""
	}
	offset := binary.LittleEndian.Uint64(header[28:36])
	size := binary.LittleEndian.Uint64(header[36:44])
	if offset == 0 || size == 0 || size > 2048 {
		return ""
	}
	descriptor := make([]byte, size*512)
	n, _ := f.ReadAt(descriptor, int64(offset*512))
	if match := adapterTypeLine.FindSubmatch(descriptor[:n]); match != nil {
		return string(match[1])
	}
	return ""
}

// qemuAdapterType maps a descriptor's or a disk spec's adapter type to one
// that qemu-img writes (ide, buslogic, lsilogic, legacyESX); the SCSI
// adapters it does not know (lsiLogicsas, paraVirtual...) become lsilogic.
func qemuAdapterType(adapter string) string {
	switch strings.ToLower(adapter) {
	case "ide":
		return "ide"
	case "buslogic":
		return "buslogic"
	case "legacyesx":
		return "legacyESX"
	default:
		return "lsilogic"
	}
}

// qemuImg runs qemu-img; a failure is a fault with qemu-img's message.
func qemuImg(args ...string) *diskError {
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		message := strings.TrimSpace(string(out))
		if message == "" {
			message = err.Error()
		}
		return systemError(message)
	}
	return nil
}

// convertToFlat writes dst (a descriptor) and its -flat extent from a VMDK.
func convertToFlat(src, dst, adapter string) *diskError {
	return qemuImg("convert", "-q", "-f", "vmdk", "-O", "vmdk",
		"-o", "subformat=monolithicFlat,adapter_type="+qemuAdapterType(adapter), src, dst)
}

// copyPair copies a descriptor and its -flat extent; the descriptor's extent
// is renamed to the destination's -flat, so that the copy reads its own.
func copyPair(src, dst diskFiles) *diskError {
	if !exists(src.flat) {
		return fileNotFound(strings.TrimSuffix(src.name, ".vmdk") + "-flat.vmdk")
	}
	if err := copyFile(src.flat, dst.flat); err != nil {
		return systemError(err.Error())
	}
	descriptor, err := os.ReadFile(src.descriptor)
	if err != nil {
		return systemError(err.Error())
	}
	descriptor = renameExtent(descriptor, filepath.Base(src.flat), filepath.Base(dst.flat))
	if err := os.WriteFile(dst.descriptor, descriptor, 0o600); err != nil {
		return systemError(err.Error())
	}
	return nil
}

// extentLine matches a flat extent in a descriptor: RW 2048 FLAT "x-flat.vmdk" 0.
var extentLine = regexp.MustCompile(`(?m)^(\s*(?:RW|RDONLY|NOACCESS)\s+\d+\s+(?:FLAT|VMFS)\s+)"([^"]*)"`)

// maxDescriptor bounds what is read as a text descriptor.
const maxDescriptor = 1 << 20

// renameExtent makes a text descriptor name newExtent where it names oldExtent.
func renameExtent(descriptor []byte, oldExtent, newExtent string) []byte {
	if len(descriptor) > maxDescriptor {
		return descriptor
	}
	return extentLine.ReplaceAllFunc(descriptor, func(line []byte) []byte {
		match := extentLine.FindSubmatch(line)
		if string(match[2]) != oldExtent {
			return line
		}
		return append(append([]byte{}, match[1]...), fmt.Sprintf("%q", newExtent)...)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

func createDisk(dc *types.ManagedObjectReference, name string, spec *types.FileBackedVirtualDiskSpec) *diskError {
	disk, err := resolveDisk(dc, name)
	if err != nil {
		return err
	}
	if err := checkFolder(disk); err != nil {
		return err
	}
	if exists(disk.descriptor) || exists(disk.flat) {
		return fileExists(name)
	}
	if spec.CapacityKb <= 0 {
		return invalidArgument("spec.capacityKb", fmt.Sprintf("Invalid capacity %d KB", spec.CapacityKb))
	}
	err = qemuImg("create", "-q", "-f", "vmdk",
		"-o", "subformat=monolithicFlat,adapter_type="+qemuAdapterType(spec.AdapterType),
		disk.descriptor, fmt.Sprintf("%dK", spec.CapacityKb))
	if err != nil {
		_ = os.Remove(disk.descriptor)
		_ = os.Remove(disk.flat)
	}
	return err
}

// anyExtent is any extent line of a descriptor; flatExtent a read-write flat
// one: RW <sectors> FLAT "<file>" 0 (qemu-img), or RW <sectors> VMFS "<file>"
// (ESXi).
var (
	anyExtent  = regexp.MustCompile(`(?m)^\s*(?:RW|RDONLY|NOACCESS)\s+\d+\s+\S+`)
	flatExtent = regexp.MustCompile(`(?m)^([ \t]*RW[ \t]+)(\d+)([ \t]+(?:FLAT|VMFS)[ \t]+"([^"/]+)"(?:[ \t]+0)?[ \t\r]*)$`)
	cylinders  = regexp.MustCompile(`(?m)^(\s*ddb\.geometry\.cylinders\s*=\s*")(\d+)(")`)
	heads      = regexp.MustCompile(`(?m)^\s*ddb\.geometry\.heads\s*=\s*"(\d+)"`)
	sectors    = regexp.MustCompile(`(?m)^\s*ddb\.geometry\.sectors\s*=\s*"(\d+)"`)
)

// maxDiskKb is the largest virtual disk on VMFS: 62 TB.
const maxDiskKb = 62 << 30

// onlyFlat is the fault for a disk the lab cannot extend.
func onlyFlat(name, what string) *diskError {
	return &diskError{
		fault: &types.NotSupported{},
		message: fmt.Sprintf("The lab only extends ESX flat disks (a descriptor and one -flat extent, "+
			"as CopyVirtualDisk and CreateVirtualDisk write them); %s is %s", name, what),
	}
}

// siblingPath is the datastore path of file in the folder of the disk name.
func siblingPath(name, file string) string {
	i := strings.LastIndexAny(name, "/]")
	if i < 0 {
		return file
	}
	if name[i] == ']' {
		return name[:i+1] + " " + file
	}
	return name[:i+1] + file
}

// extendDisk grows a descriptor and its flat extent to newCapacityKb: the
// extent is lengthened (sparse, so it reads as zeros, and eagerZero changes
// nothing), then the descriptor's extent and ddb.geometry.cylinders give the
// new size (cylinders = sectors / (heads * sectors per track), as qemu-img
// computes them). A capacity not larger than the disk's is refused with
// InvalidArgument on newCapacityKb, as a host refuses a shrink.
func extendDisk(req *types.ExtendVirtualDisk_Task) *diskError {
	disk, err := resolveDisk(req.Datacenter, req.Name)
	if err != nil {
		return err
	}
	info, statErr := os.Stat(disk.descriptor)
	if statErr != nil || !info.Mode().IsRegular() {
		return fileNotFound(disk.name)
	}
	sparse, readErr := isSparse(disk.descriptor)
	if readErr != nil {
		return systemError(fmt.Sprintf("Cannot read %s: %v", disk.name, readErr))
	}
	if sparse {
		return onlyFlat(disk.name, "a hosted sparse disk (one file)")
	}
	if info.Size() > maxDescriptor {
		return onlyFlat(disk.name, "not a text descriptor")
	}
	text, readErr := os.ReadFile(disk.descriptor)
	if readErr != nil {
		return systemError(fmt.Sprintf("Cannot read %s: %v", disk.name, readErr))
	}
	extents := anyExtent.FindAll(text, -1)
	match := flatExtent.FindSubmatchIndex(text)
	if len(extents) != 1 || match == nil {
		return onlyFlat(disk.name, fmt.Sprintf("a descriptor of %d extents, not one read-write flat extent", len(extents)))
	}
	oldSectors, parseErr := strconv.ParseInt(string(text[match[4]:match[5]]), 10, 64)
	if parseErr != nil {
		return onlyFlat(disk.name, "a descriptor whose extent size cannot be read")
	}
	extent := string(text[match[8]:match[9]])
	flat := filepath.Join(filepath.Dir(disk.descriptor), extent)
	flatInfo, statErr := os.Stat(flat)
	if statErr != nil || !flatInfo.Mode().IsRegular() {
		return fileNotFound(siblingPath(disk.name, extent))
	}
	if req.NewCapacityKb > maxDiskKb {
		return invalidArgument("newCapacityKb", fmt.Sprintf(
			"A specified parameter was not correct: newCapacityKb (%d KB is more than the 62 TB a VMFS disk can hold)",
			req.NewCapacityKb))
	}
	newSectors := req.NewCapacityKb * 2
	if newSectors <= oldSectors {
		return invalidArgument("newCapacityKb", fmt.Sprintf(
			"A specified parameter was not correct: newCapacityKb (%d KB is not larger than the disk's capacity, %d KB; "+
				"a disk cannot shrink)", req.NewCapacityKb, oldSectors/2))
	}

	descriptor := append(append(append([]byte{}, text[:match[4]]...), strconv.FormatInt(newSectors, 10)...), text[match[5]:]...)
	h, hOK := geometryValue(heads, descriptor)
	spt, sOK := geometryValue(sectors, descriptor)
	if hOK && sOK && h > 0 && spt > 0 {
		descriptor = cylinders.ReplaceAll(descriptor, []byte("${1}"+strconv.FormatInt(newSectors/(h*spt), 10)+"${3}"))
	}

	oldSize := flatInfo.Size()
	if oldSize < newSectors*512 {
		if err := os.Truncate(flat, newSectors*512); err != nil {
			return systemError(fmt.Sprintf("Cannot extend %s: %v", siblingPath(disk.name, extent), err))
		}
	}
	if err := replaceFile(disk.descriptor, descriptor, info.Mode().Perm()); err != nil {
		_ = os.Truncate(flat, oldSize)
		return systemError(fmt.Sprintf("Cannot write %s: %v", disk.name, err))
	}
	return nil
}

func geometryValue(re *regexp.Regexp, descriptor []byte) (int64, bool) {
	match := re.FindSubmatch(descriptor)
	if match == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(match[1]), 10, 64)
	return n, err == nil
}

// replaceFile writes data to a new file next to file, then renames it over
// file: the descriptor is the old one or the new one, never half written.
func replaceFile(file string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".extend-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
