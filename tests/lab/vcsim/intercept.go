package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// intercept runs the lab's additions before the simulator handles a request:
//   - 0.24.2's ReconfigureComputeResource_Task ignores the DRS configuration,
//     so the lab applies it (enabled, default behaviour, vMotion rate, VM
//     behaviour overrides) with modify semantics, then the simulator answers;
//   - an NFC upload (PUT or POST under /nfc/) writes the imported disk, which
//     0.24.2 discards (see nfcUpload);
//   - VirtualMachine.ExportVm, which 0.24.2 lacks, returns a lease whose GET
//     under /nfc/ serves the VM's disk as streamOptimized (export.go); GET
//     /lab/exports lists the export leases still open;
//   - VirtualMachine.AcquireTicket, which 0.24.2 lacks, hands out console
//     tickets (ticket.go);
//   - a call that a -fail-method asks to fail is answered with the injected
//     fault, and not executed (see faultInjector);
//   - with -guest-tools, a powered-on VM's guest reports in later (guestTools);
//   - a property read in a session that was ended is refused (sessionGuard);
//   - a call that needs a privilege its session's user lacks is refused with
//     NoPermission (privilegeGuard, which learns the user of each Login);
//   - a call that changes VM NICs or distributed switches is followed by
//     settleNetworks, before its response is sent (network.go), and one that
//     changes a VM's extraConfig by settleExtraConfig (a key set again
//     replaces its value, an empty value removes it: extraconfig.go);
//   - every call is counted as begun and answered, served at GET /lab/calls,
//     and timed, served at GET /lab/calls/log (callLog); GET /lab/sessions
//     lists the live sessions (labsessions.go); GET /lab/connections counts
//     the connections that carried a client's requests (connections.go).
func intercept(next http.Handler, faults *faultInjector, guest *guestTools,
	sessions *sessionGuard, privileges *privilegeGuard, calls *callLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noteConnection(r)
		if r.Method == http.MethodGet && r.URL.Path == "/lab/calls" {
			calls.serve(w)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/lab/calls/log" {
			calls.serveLog(w)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/lab/sessions" {
			serveSessions(w)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/lab/connections" {
			serveConnections(w)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/lab/exports" {
			serveExports(w)
			return
		}
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/nfc/") {
			exportGet(next, w, r)
			return
		}
		if (r.Method == http.MethodPut || r.Method == http.MethodPost) && strings.HasPrefix(r.URL.Path, "/nfc/") {
			nfcUpload(next, w, r)
			return
		}
		if r.Method == http.MethodPost && r.URL.Path == "/sdk" {
			data, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(data))
			if method, err := simulator.UnmarshalBody(types.TypeFunc(), data); err == nil {
				begun := calls.begin(method.Name)
				defer calls.end(method.Name, begun)
				if sessions.answer(w, r, method) || faults.answer(w, method) ||
					privileges.answer(w, r, method) {
					return
				}
				if req, ok := method.Body.(*types.ExportVm); ok && exportVM(w, req) {
					return
				}
				if req, ok := method.Body.(*types.AcquireTicket); ok && acquireTicket(w, req) {
					return
				}
				if req, ok := method.Body.(*types.Login); ok {
					defer privileges.loggedIn(w, req)
				}
				if req, ok := method.Body.(*types.ReconfigureComputeResource_Task); ok {
					applyDRS(req)
				}
				if req, ok := method.Body.(*types.PowerOnVM_Task); ok {
					defer guest.poweredOn(req)
				}
				if networkMethods[method.Name] {
					// Tasks run to completion within the call (0.24.2).
					held := &heldResponse{header: w.Header(), status: http.StatusOK}
					next.ServeHTTP(held, r)
					settleNetworks()
					if extraConfigMethods[method.Name] {
						settleExtraConfig()
					}
					w.WriteHeader(held.status)
					_, _ = w.Write(held.body.Bytes())
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// networkMethods change what settleNetworks derives.
var networkMethods = map[string]bool{
	"CreateVM_Task": true, "ReconfigVM_Task": true, "CloneVM_Task": true, "ImportVApp": true,
	"CreateDVS_Task": true, "AddDVPortgroup_Task": true, "ReconfigureDvs_Task": true,
}

// heldResponse keeps a response until the lab has finished with the call.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header         { return h.header }
func (h *heldResponse) WriteHeader(status int)      { h.status = status }
func (h *heldResponse) Write(b []byte) (int, error) { return h.body.Write(b) }

func applyDRS(req *types.ReconfigureComputeResource_Task) {
	spec, ok := req.Spec.(*types.ClusterConfigSpecEx)
	if !ok || spec.DrsConfig == nil {
		return
	}
	cluster, ok := simulator.Map.Get(req.This).(*simulator.ClusterComputeResource)
	if !ok {
		return
	}
	simulator.Map.WithLock(cluster, func() {
		drs := &cluster.ConfigurationEx.(*types.ClusterConfigInfoEx).DrsConfig
		if spec.DrsConfig.Enabled != nil {
			drs.Enabled = spec.DrsConfig.Enabled
		}
		if spec.DrsConfig.DefaultVmBehavior != "" {
			drs.DefaultVmBehavior = spec.DrsConfig.DefaultVmBehavior
		}
		if spec.DrsConfig.VmotionRate != 0 {
			drs.VmotionRate = spec.DrsConfig.VmotionRate
		}
		if spec.DrsConfig.EnableVmBehaviorOverrides != nil {
			drs.EnableVmBehaviorOverrides = spec.DrsConfig.EnableVmBehaviorOverrides
		}
	})
}
