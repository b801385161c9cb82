package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// extraConfigMethods change a VM's extraConfig.
var extraConfigMethods = map[string]bool{
	"CreateVM_Task": true, "ReconfigVM_Task": true, "CloneVM_Task": true,
}

// settleExtraConfig gives every VM's extraConfig vCenter's semantics, which 0.24.2 lacks:
// a key set again replaces its value (0.24.2 appends a second entry, and readers see the
// first), and a key set to the empty string is removed.
func settleExtraConfig() {
	for _, obj := range simulator.Map.All("VirtualMachine") {
		vm, ok := obj.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			if vm.Config == nil {
				return
			}
			index := map[string]int{}
			var kept []types.BaseOptionValue
			for _, option := range vm.Config.ExtraConfig {
				key := option.GetOptionValue().Key
				if i, seen := index[key]; seen {
					kept[i] = option
					continue
				}
				index[key] = len(kept)
				kept = append(kept, option)
			}
			var settled []types.BaseOptionValue
			for _, option := range kept {
				if text, isText := option.GetOptionValue().Value.(string); isText && text == "" {
					continue
				}
				settled = append(settled, option)
			}
			vm.Config.ExtraConfig = settled
		})
	}
}
