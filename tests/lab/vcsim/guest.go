package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// guestTools makes powered-on VMs behave as guests with VMware Tools: the
// given time after a PowerOnVM_Task, the VM reports Tools running, a green
// heartbeat and an IP address (from TEST-NET-2, 198.51.100.0/24: nothing
// is reachable there). 0.24.2 never reports a guest, as a VM without Tools.
type guestTools struct {
	after time.Duration
	count uint32
}

// poweredOn schedules the guest's report for the VM the request powered on.
func (g *guestTools) poweredOn(req *types.PowerOnVM_Task) {
	if g == nil || g.after < 0 {
		return
	}
	n := atomic.AddUint32(&g.count, 1)
	ip := fmt.Sprintf("198.51.100.%d", 1+(n-1)%254)
	ref := req.This
	go func() {
		time.Sleep(g.after)
		vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
		if !ok {
			return
		}
		simulator.Map.WithLock(vm, func() {
			if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
				return
			}
			simulator.Map.Update(vm, []types.PropertyChange{
				{Name: "guestHeartbeatStatus", Val: types.ManagedEntityStatusGreen},
				{Name: "guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)},
				{Name: "guest.ipAddress", Val: ip},
			})
		})
	}()
}
