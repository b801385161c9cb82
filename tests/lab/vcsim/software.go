package main

import (
	"fmt"
	"log"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// ESXi's software image through the vSphere API, per host (0.24.2 has no
// HostImageConfigManager nor HostPatchManager, and every host names the same
// "ha-image-config-manager" and "ha-host-patch-manager"):
//   - LabImageConfigManager ("imageConfigManager-<host>"): the acceptance
//     level (HostImageConfigGetAcceptance, UpdateHostImageAcceptanceLevel),
//     the VIBs installed (fetchSoftwarePackages), the image profile and the
//     install date;
//   - LabPatchManager ("patchManager-<host>"): InstallHostPatchV2_Task
//     installs VIBs read from a datastore (/vmfs/volumes/<datastore>/<path>),
//     checked as ESXi checks them, then refreshes the host's firewall as a
//     live install does (see LabFirewallSystem).
//
// Faults are PlatformConfigFaults (a HostConfigFault, which these methods
// declare) whose text and faultMessage carry ESXi's message; the error class
// esxupdate would name is the faultMessage key ("esximage.<Class>").

// hostSoftware is a host's image: its acceptance level and the VIBs installed.
type hostSoftware struct {
	mu          sync.Mutex
	host        *simulator.HostSystem
	acceptance  string
	secureBoot  bool // UEFI secure boot: no level below partner
	installed   []*installedVib
	installDate time.Time
	firewall    *LabFirewallSystem
}

// installedVib is a VIB on a host; pending ones (installed in maintenance
// mode, not live) take effect at a reboot, which the lab never does.
type installedVib struct {
	vib      *vib
	date     time.Time
	firewall []firewallFile
	pending  bool
}

// installHostSoftware gives every host its image managers, and its firewall
// system a RefreshFirewall; level is every host's acceptance level ("" = partner).
func installHostSoftware(level string, secureBoot []string) error {
	if level == "" {
		level = string(types.HostImageAcceptanceLevelPartner)
	}
	if levelRank(level) < 0 || hostLevel(level) != level {
		return fmt.Errorf("bad -acceptance %q: vmware_certified, vmware_accepted, partner or community", level)
	}
	for _, obj := range simulator.Map.All("HostSystem") {
		host := obj.(*simulator.HostSystem)
		boot := time.Now()
		if host.Runtime.BootTime != nil {
			boot = *host.Runtime.BootTime
		}
		software := &hostSoftware{
			host:        host,
			acceptance:  level,
			secureBoot:  contains(secureBoot, host.Name),
			installDate: boot.Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second),
		}
		image := &LabImageConfigManager{software: software}
		image.Self = types.ManagedObjectReference{Type: "HostImageConfigManager", Value: "imageConfigManager-" + host.Self.Value}
		patch := &LabPatchManager{software: software}
		patch.Self = types.ManagedObjectReference{Type: "HostPatchManager", Value: "patchManager-" + host.Self.Value}
		simulator.Map.Put(image)
		simulator.Map.Put(patch)
		software.firewall = wrapFirewall(host, software)
		simulator.Map.WithLock(host, func() {
			imageRef, patchRef := image.Self, patch.Self
			// New pointers: the model's hosts share the template's.
			host.ConfigManager.ImageConfigManager = &imageRef
			host.ConfigManager.PatchManager = &patchRef
		})
	}
	return nil
}

// hostFault is a PlatformConfigFault with ESXi's message.
func hostFault(class, message string) *diskError {
	return &diskError{
		fault: &types.PlatformConfigFault{
			HostConfigFault: types.HostConfigFault{VimFault: types.VimFault{MethodFault: types.MethodFault{
				FaultMessage: []types.LocalizableMessage{{Key: "esximage." + class, Message: message}},
			}}},
			Text: message,
		},
		message: message,
	}
}

// activeServices are the rulesets of the firewall files of the VIBs in effect,
// in install order, re-read from the files.
func (s *hostSoftware) activeServices() []types.HostFirewallRuleset {
	s.mu.Lock()
	var files []firewallFile
	for _, installed := range s.installed {
		if !installed.pending {
			files = append(files, installed.firewall...)
		}
	}
	s.mu.Unlock()
	var services []types.HostFirewallRuleset
	for _, file := range files {
		rulesets, err := parseFirewallXML(file.data)
		if err != nil {
			log.Printf("%s: %s: %v", s.host.Name, file.name, err)
			continue
		}
		services = append(services, rulesets...)
	}
	return services
}

// ------------------------------------------------------------------ HostImageConfigManager

type LabImageConfigManager struct {
	mo.HostImageConfigManager

	software *hostSoftware
}

func (m *LabImageConfigManager) HostImageConfigGetAcceptance(*types.HostImageConfigGetAcceptance) soap.HasFault {
	m.software.mu.Lock()
	defer m.software.mu.Unlock()
	return &methods.HostImageConfigGetAcceptanceBody{
		Res: &types.HostImageConfigGetAcceptanceResponse{Returnval: m.software.acceptance},
	}
}

func (m *LabImageConfigManager) UpdateHostImageAcceptanceLevel(req *types.UpdateHostImageAcceptanceLevel) soap.HasFault {
	body := &methods.UpdateHostImageAcceptanceLevelBody{}
	level := req.NewAcceptanceLevel
	if levelRank(level) < 0 || hostLevel(level) != level {
		message := fmt.Sprintf("Invalid acceptance level %q: expected one of vmware_certified, vmware_accepted, partner, community", level)
		body.Fault_ = simulator.Fault(message, &types.InvalidArgument{InvalidProperty: "newAcceptanceLevel"})
		return body
	}
	s := m.software
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secureBoot && levelRank(level) > levelRank(string(types.HostImageAcceptanceLevelPartner)) {
		fault := hostFault("AcceptanceConfigError", fmt.Sprintf(
			"Unable to set acceptance level of %s: UEFI Secure Boot is enabled on the host, which "+
				"requires VIBs of PartnerSupported or higher.", vibLevel(level)))
		body.Fault_ = simulator.Fault(fault.message, fault.fault)
		return body
	}
	var lower []string
	for _, installed := range s.installed {
		if levelRank(installed.vib.desc.AcceptanceLevel) > levelRank(level) {
			lower = append(lower, installed.vib.id())
		}
	}
	if len(lower) > 0 {
		fault := hostFault("AcceptanceConfigError", fmt.Sprintf(
			"Unable to set acceptance level of %s due to installed VIBs %s having a lower acceptance level.",
			vibLevel(level), strings.Join(lower, ", ")))
		body.Fault_ = simulator.Fault(fault.message, fault.fault)
		return body
	}
	s.acceptance = level
	body.Res = &types.UpdateHostImageAcceptanceLevelResponse{}
	return body
}

func (m *LabImageConfigManager) HostImageConfigGetProfile(*types.HostImageConfigGetProfile) soap.HasFault {
	s := m.software
	s.mu.Lock()
	updated := len(s.installed) > 0
	s.mu.Unlock()
	product := s.product()
	name := fmt.Sprintf("ESXi-%s-%s-standard", product.Version, product.Build)
	if updated {
		name = "(Updated) " + name
	}
	return &methods.HostImageConfigGetProfileBody{Res: &types.HostImageConfigGetProfileResponse{
		Returnval: types.HostImageProfileSummary{Name: name, Vendor: "VMware, Inc."},
	}}
}

func (m *LabImageConfigManager) InstallDate(*types.InstallDate) soap.HasFault {
	return &methods.InstallDateBody{Res: &types.InstallDateResponse{Returnval: m.software.installDate}}
}

// FetchSoftwarePackages lists esx-base (the host's own image, standing for
// the VMware VIBs of a real host) and the VIBs installed, oldest first.
func (m *LabImageConfigManager) FetchSoftwarePackages(*types.FetchSoftwarePackages) soap.HasFault {
	s := m.software
	product := s.product()
	installDate := s.installDate
	packages := []types.SoftwarePackage{{
		Name:                    "esx-base",
		Version:                 fmt.Sprintf("%s-0.0.%s", product.Version, product.Build),
		Type:                    string(types.SoftwarePackageVibTypeBootbank),
		Vendor:                  "VMware",
		AcceptanceLevel:         string(types.HostImageAcceptanceLevelVmware_certified),
		Summary:                 "Provides the ESXi base system",
		Description:             "The ESXi base system (the lab's stand-in for the VMware VIBs of a host)",
		CreationDate:            &installDate,
		MaintenanceModeRequired: types.NewBool(true),
		Capability: types.SoftwarePackageCapability{
			LiveInstallAllowed: types.NewBool(false),
			LiveRemoveAllowed:  types.NewBool(false),
			StatelessReady:     types.NewBool(true),
			Overlay:            types.NewBool(false),
		},
	}}
	s.mu.Lock()
	for _, installed := range s.installed {
		packages = append(packages, installed.softwarePackage())
	}
	s.mu.Unlock()
	return &methods.FetchSoftwarePackagesBody{Res: &types.FetchSoftwarePackagesResponse{Returnval: packages}}
}

func (s *hostSoftware) product() types.AboutInfo {
	var product types.AboutInfo
	simulator.Map.WithLock(s.host, func() {
		if s.host.Summary.Config.Product != nil {
			product = *s.host.Summary.Config.Product
		}
	})
	return product
}

// softwarePackage is the VIB as fetchSoftwarePackages reports it;
// creationDate is when it was installed (the API's definition).
func (i *installedVib) softwarePackage() types.SoftwarePackage {
	d := i.vib.desc
	date := i.date
	pkg := types.SoftwarePackage{
		Name:                    d.Name,
		Version:                 d.Version,
		Type:                    d.Type,
		Vendor:                  d.Vendor,
		AcceptanceLevel:         hostLevel(d.AcceptanceLevel),
		Summary:                 d.Summary,
		Description:             d.Description,
		CreationDate:            &date,
		MaintenanceModeRequired: types.NewBool(i.vib.mmInstall),
		Capability: types.SoftwarePackageCapability{
			LiveInstallAllowed: types.NewBool(i.vib.liveInstall),
			LiveRemoveAllowed:  types.NewBool(i.vib.liveRemove),
			StatelessReady:     types.NewBool(isTrue(d.StatelessReady)),
			Overlay:            types.NewBool(isTrue(d.Overlay)),
		},
		Tag: d.Tags,
	}
	for _, u := range d.URLs {
		pkg.ReferenceURL = append(pkg.ReferenceURL, strings.TrimSpace(u.URL))
	}
	pkg.Depends = relations(d.Depends)
	pkg.Conflicts = relations(d.Conflicts)
	pkg.Replaces = relations(d.Replaces)
	for _, p := range d.Provides {
		pkg.Provides = append(pkg.Provides, p.Name)
	}
	for _, p := range d.HwPlatforms {
		pkg.HardwarePlatformsRequired = append(pkg.HardwarePlatformsRequired, strings.TrimSpace(p.Vendor+" "+p.Model))
	}
	for _, p := range d.Payloads {
		pkg.Payload = append(pkg.Payload, p.Name)
	}
	return pkg
}

func isTrue(value string) bool {
	b, _ := parseBool(value, false)
	return b
}

// relations maps descriptor constraints (relation =, <<, <=, >=, >>) to Relations.
func relations(constraints []vibConstraint) []types.Relation {
	names := map[string]types.SoftwarePackageConstraint{
		"=": types.SoftwarePackageConstraintEquals, "<<": types.SoftwarePackageConstraintLessThan,
		"<=": types.SoftwarePackageConstraintLessThanEqual, ">=": types.SoftwarePackageConstraintGreaterThanEqual,
		">>": types.SoftwarePackageConstraintGreaterThan,
	}
	var result []types.Relation
	for _, c := range constraints {
		result = append(result, types.Relation{Name: c.Name, Version: c.Version, Constraint: string(names[c.Relation])})
	}
	return result
}

// ------------------------------------------------------------------ HostPatchManager

type LabPatchManager struct {
	mo.HostPatchManager

	software *hostSoftware
}

func (m *LabPatchManager) InstallHostPatchV2Task(req *types.InstallHostPatchV2_Task) soap.HasFault {
	s := m.software
	var failure *diskError
	task := simulator.CreateTask(s.host, "installHostPatchV2Task", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		result, err := s.install(req)
		if err != nil {
			failure = err
			return nil, err.fault
		}
		return result, nil
	})
	// As ESXi names it; the task's entity is the host.
	task.Info.DescriptionId = "host.PatchManager.InstallV2"
	task.Info.EntityName = s.host.Name
	ref := task.Run()
	if failure != nil {
		log.Printf("%s: InstallHostPatchV2: %s", s.host.Name, failure.message)
		simulator.Map.Update(task, []types.PropertyChange{{
			Name: "info.error",
			Val:  types.LocalizedMethodFault{Fault: failure.fault, LocalizedMessage: failure.message},
		}})
	}
	return &methods.InstallHostPatchV2_TaskBody{Res: &types.InstallHostPatchV2_TaskResponse{Returnval: ref}}
}

// install installs the VIBs of vibUrls in one transaction, as esxupdate
// does: any failure leaves the host as it was.
func (s *hostSoftware) install(req *types.InstallHostPatchV2_Task) (*types.HostPatchManagerResult, *diskError) {
	if len(req.MetaUrls) > 0 || len(req.BundleUrls) > 0 {
		return nil, hostFault("MetadataDownloadError",
			"The lab's hosts install VIBs given in vibUrls only, not depots (metaUrls) or offline bundles (bundleUrls)")
	}
	if len(req.VibUrls) == 0 {
		return nil, &diskError{
			fault:   &types.InvalidArgument{InvalidProperty: "vibUrls"},
			message: "No VIB to install: vibUrls is empty",
		}
	}
	var vibs []*vib
	for _, location := range req.VibUrls {
		data, err := s.readVib(location)
		if err != nil {
			return nil, err
		}
		v, parseErr := parseVib(data)
		if parseErr != nil {
			return nil, hostFault("VibFormatError", fmt.Sprintf("%s is not a valid VIB: %v", location, parseErr))
		}
		vibs = append(vibs, v)
	}

	inMaintenance := false
	simulator.Map.WithLock(s.host, func() { inMaintenance = s.host.Runtime.InMaintenanceMode })

	s.mu.Lock()
	result, live, err := s.transaction(vibs, inMaintenance)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if live && s.firewall != nil {
		// A live install refreshes the firewall, as ESXi's does.
		simulator.Map.WithLock(s.firewall, s.firewall.refresh)
	}
	return result, nil
}

// transaction checks and records the install; s.mu is held. live says
// whether something took effect at once (the firewall needs a refresh).
func (s *hostSoftware) transaction(vibs []*vib, inMaintenance bool) (*types.HostPatchManagerResult, bool, *diskError) {
	var install []*vib
	var skipped []string
	removed := map[string]*installedVib{} // by the name of the VIB replacing it
	queued := map[string]string{}         // name -> version
	for _, v := range vibs {
		if version, ok := queued[v.desc.Name]; ok {
			if version == v.desc.Version {
				continue // the same VIB given twice
			}
			return nil, false, hostFault("InstallationError", fmt.Sprintf(
				"Two versions of VIB %s are given (%s, %s): install one at a time", v.desc.Name, version, v.desc.Version))
		}
		queued[v.desc.Name] = v.desc.Version
		if current := s.find(v.desc.Name); current != nil && current.vib.desc.Version == v.desc.Version {
			skipped = append(skipped, v.id())
			continue
		} else if current != nil {
			removed[v.desc.Name] = current
		}
		install = append(install, v)
	}

	for _, v := range install {
		if levelRank(v.desc.AcceptanceLevel) > levelRank(s.acceptance) {
			return nil, false, hostFault("AcceptanceConfigError", fmt.Sprintf(
				"VIB %s's acceptance level is %s, which is not compliant with the ImageProfile acceptance level %s",
				v.id(), v.desc.AcceptanceLevel, vibLevel(s.acceptance)))
		}
	}

	var needInstall, needRemove []string
	for _, v := range install {
		if v.requiresMaintenance() {
			needInstall = append(needInstall, v.id())
		}
		if old := removed[v.desc.Name]; old != nil && (old.vib.mmRemove || !old.vib.liveRemove) {
			needRemove = append(needRemove, old.vib.id())
		}
	}
	maintenance := len(needInstall) > 0 || len(needRemove) > 0
	if maintenance && !inMaintenance {
		return nil, false, hostFault("MaintenanceModeError", fmt.Sprintf(
			"MaintenanceMode is required to remove: [%s], install: [%s]. Put the host in maintenance mode to install the VIB.",
			strings.Join(needRemove, ", "), strings.Join(needInstall, ", ")))
	}

	type checked struct {
		vib   *vib
		files []firewallFile
	}
	var ready []checked
	for _, v := range install {
		files, err := v.verifyPayloads()
		if err != nil {
			return nil, false, hostFault("VibFormatError", fmt.Sprintf("VIB %s: %v", v.id(), err))
		}
		for _, file := range files {
			if _, err := parseFirewallXML(file.data); err != nil {
				return nil, false, hostFault("InstallationError", fmt.Sprintf(
					"VIB %s: the firewall configuration %s is not valid: %v", v.id(), file.name, err))
			}
		}
		ready = append(ready, checked{vib: v, files: files})
	}

	now := time.Now().UTC().Truncate(time.Second)
	var installedIDs, removedIDs []string
	for _, c := range ready {
		if old := removed[c.vib.desc.Name]; old != nil {
			s.remove(old)
			removedIDs = append(removedIDs, old.vib.id())
		}
		s.installed = append(s.installed, &installedVib{vib: c.vib, date: now, firewall: c.files, pending: maintenance})
		installedIDs = append(installedIDs, c.vib.id())
	}
	live := len(ready) > 0 && !maintenance
	return &types.HostPatchManagerResult{
		Version:   esxupdateVersion,
		XmlResult: esxupdateResult(installedIDs, removedIDs, skipped, maintenance && len(ready) > 0),
	}, live, nil
}

func (s *hostSoftware) find(name string) *installedVib {
	for _, installed := range s.installed {
		if installed.vib.desc.Name == name {
			return installed
		}
	}
	return nil
}

func (s *hostSoftware) remove(old *installedVib) {
	for i, installed := range s.installed {
		if installed == old {
			s.installed = append(s.installed[:i], s.installed[i+1:]...)
			return
		}
	}
}

const esxupdateVersion = "1.50"

// esxupdateResult is the xmlResult of an install, as esxupdate answers hostd.
func esxupdateResult(installed, removed, skipped []string, reboot bool) string {
	message := "Operation finished successfully."
	switch {
	case reboot:
		message = "The update completed successfully, but the system needs to be rebooted for the changes to be effective."
	case len(installed) == 0 && len(removed) == 0:
		message = "Host is not changed."
	}
	list := func(tag string, ids []string) string {
		var b strings.Builder
		b.WriteString("<" + tag + ">")
		sorted := append([]string(nil), ids...)
		sort.Strings(sorted)
		for _, id := range sorted {
			b.WriteString("<vib>" + xmlEscape(id) + "</vib>")
		}
		b.WriteString("</" + tag + ">")
		return b.String()
	}
	return "<esxupdate-response><version>" + esxupdateVersion + "</version><vib-install-result>" +
		fmt.Sprintf("<reboot-required>%t</reboot-required>", reboot) +
		"<message>" + xmlEscape(message) + "</message>" +
		list("vibs-installed", installed) + list("vibs-removed", removed) + list("vibs-skipped", skipped) +
		"</vib-install-result></esxupdate-response>"
}

func xmlEscape(text string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(text)
}

// readVib reads a VIB given as a host path, /vmfs/volumes/<datastore>/<path>
// (or file:// of one), from the datastore's directory; the datastore (by
// name, or by the id the host mounts it under) must be mounted on the host.
func (s *hostSoftware) readVib(location string) ([]byte, *diskError) {
	notFound := func() *diskError {
		return hostFault("VibDownloadError", fmt.Sprintf("Cannot read VIB %s: [Errno 2] No such file or directory", location))
	}
	hostPath := location
	if u, err := url.Parse(location); err == nil && u.Scheme != "" {
		if u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") {
			return nil, hostFault("VibDownloadError", fmt.Sprintf(
				"Cannot download VIB %s: the lab's hosts read VIBs from datastores only (/vmfs/volumes/<datastore>/<path>)", location))
		}
		hostPath = u.Path
	}
	const prefix = "/vmfs/volumes/"
	if !strings.HasPrefix(hostPath, prefix) {
		return nil, hostFault("VibDownloadError", fmt.Sprintf(
			"Cannot read VIB %s: the lab's hosts read VIBs from datastores only (/vmfs/volumes/<datastore>/<path>)", location))
	}
	dsName, rel, _ := strings.Cut(strings.TrimPrefix(hostPath, prefix), "/")
	if rel == "" || contains(strings.Split(rel, "/"), "..") {
		return nil, notFound()
	}
	ds := s.mountedDatastore(dsName)
	if ds == nil {
		return nil, notFound()
	}
	local := filepath.Join(ds.Info.GetDatastoreInfo().Url, filepath.FromSlash(path.Clean("/"+rel)))
	info, err := os.Stat(local)
	if err != nil || !info.Mode().IsRegular() {
		return nil, notFound()
	}
	if info.Size() > maxVibSize {
		return nil, hostFault("VibFormatError", fmt.Sprintf("%s is not a valid VIB: larger than %d bytes", location, int64(maxVibSize)))
	}
	data, err := os.ReadFile(local)
	if err != nil {
		return nil, hostFault("VibDownloadError", fmt.Sprintf("Cannot read VIB %s: %v", location, err))
	}
	return data, nil
}

// mountedDatastore is the accessible datastore of the host named name (or
// whose id is name, as in /vmfs/volumes/<id>).
func (s *hostSoftware) mountedDatastore(name string) *simulator.Datastore {
	var refs []types.ManagedObjectReference
	simulator.Map.WithLock(s.host, func() { refs = append(refs, s.host.Datastore...) })
	for _, ref := range refs {
		ds, ok := simulator.Map.Get(ref).(*simulator.Datastore)
		if ok && (ds.Name == name || ds.Self.Value == name) && ds.Summary.Accessible {
			return ds
		}
	}
	return nil
}
