package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// scenarios shape the inventory after the model is built, so that tests and
// the demo start from a known state.
var scenarios = map[string]func(){
	// healthy: what the configuration guide asks for is in place.
	"healthy": func() {
		setDRS(true, types.DrsBehaviorFullyAutomated)
	},
	// fresh: a cluster that still lacks what the guide asks for.
	"fresh": func() {
		setDRS(false, types.DrsBehaviorManual)
	},
}

func setDRS(enabled bool, behavior types.DrsBehavior) {
	for _, obj := range simulator.Map.All("ClusterComputeResource") {
		cluster := obj.(*simulator.ClusterComputeResource)
		config := cluster.ConfigurationEx.(*types.ClusterConfigInfoEx)
		config.DrsConfig.Enabled = types.NewBool(enabled)
		config.DrsConfig.DefaultVmBehavior = behavior
	}
}

// shareDatastores fixes two faults of the 0.24.2 model: a datastore mounted on
// several hosts lists only the last of them in Datastore.host, and its type is
// OTHER, which Nova's datastore filter rejects. Every host whose datastore list
// names the datastore is listed as a read-write, mounted, accessible mount, and
// the type becomes VMFS.
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
		ds.Summary.Type = string(types.HostFileSystemVolumeFileSystemTypeVMFS)
	}
}
