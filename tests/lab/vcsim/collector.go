package main

import (
	"regexp"
	"sync"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// PagingCollector adds what 0.24.2's PropertyCollector lacks:
//   - RetrievePropertiesEx honours RetrieveOptions.maxObjects and hands out the
//     rest of a result through ContinueRetrievePropertiesEx, as vCenter does
//     (tests count requests per page);
//   - a path such as config.extraConfig["nvp.vm-uuid"] selects one option, as
//     vCenter allows and Nova uses, instead of failing with InvalidProperty.
//
// The simulator makes one instance per session with reflect.New, so the
// collector is embedded by value and the page store starts empty (nil).
type PagingCollector struct {
	simulator.PropertyCollector

	pageMu sync.Mutex
	pages  map[string]pending
}

// pending is the rest of a result and the page size the client asked for.
type pending struct {
	objects []types.ObjectContent
	size    int32
}

func installPagingCollector() {
	ref := vpx.ServiceContent.PropertyCollector
	original := simulator.Map.Get(ref).(*simulator.PropertyCollector)
	collector := &PagingCollector{}
	collector.Self = original.Self
	simulator.Map.Put(collector)
}

// page returns the first page of objects and the token for the rest ("" when none).
func (pc *PagingCollector) page(objects []types.ObjectContent, size int32, token string) ([]types.ObjectContent, string) {
	pc.pageMu.Lock()
	defer pc.pageMu.Unlock()
	if pc.pages == nil {
		pc.pages = map[string]pending{}
	}
	delete(pc.pages, token)
	if size <= 0 || len(objects) <= int(size) {
		return objects, ""
	}
	if token == "" {
		token = uuid.New().String()
	}
	pc.pages[token] = pending{objects: objects[size:], size: size}
	return objects[:size], token
}

func (pc *PagingCollector) RetrievePropertiesEx(ctx *simulator.Context, req *types.RetrievePropertiesEx) soap.HasFault {
	keys, keepWhole := rewriteOptionKeys(req)
	body := pc.PropertyCollector.RetrievePropertiesEx(ctx, req).(*methods.RetrievePropertiesExBody)
	if body.Res == nil || body.Res.Returnval == nil {
		return body
	}
	result := body.Res.Returnval
	if len(keys) > 0 {
		for i := range result.Objects {
			selectOptionKeys(&result.Objects[i], keys, keepWhole)
		}
	}
	result.Objects, result.Token = pc.page(result.Objects, req.Options.MaxObjects, "")
	return body
}

var optionKeyPath = regexp.MustCompile(`^config\.extraConfig\["(.+)"\]$`)

const extraConfig = "config.extraConfig"

// rewriteOptionKeys replaces config.extraConfig["key"] paths by config.extraConfig;
// it returns the keys asked for and whether the whole list was asked for too.
func rewriteOptionKeys(req *types.RetrievePropertiesEx) ([]string, bool) {
	var keys []string
	keepWhole := false
	for i := range req.SpecSet {
		for j := range req.SpecSet[i].PropSet {
			spec := &req.SpecSet[i].PropSet[j]
			var paths []string
			asked := false
			for _, path := range spec.PathSet {
				if match := optionKeyPath.FindStringSubmatch(path); match != nil {
					keys = append(keys, match[1])
					asked = true
					continue
				}
				if path == extraConfig {
					keepWhole = true
				}
				paths = append(paths, path)
			}
			if asked && !contains(paths, extraConfig) {
				paths = append(paths, extraConfig)
			}
			spec.PathSet = paths
		}
	}
	return keys, keepWhole
}

// selectOptionKeys turns the config.extraConfig property into one property per key.
func selectOptionKeys(content *types.ObjectContent, keys []string, keepWhole bool) {
	var props []types.DynamicProperty
	for _, prop := range content.PropSet {
		if prop.Name != extraConfig {
			props = append(props, prop)
			continue
		}
		if options, ok := prop.Val.(*types.ArrayOfOptionValue); ok {
			for _, option := range options.OptionValue {
				key := option.GetOptionValue().Key
				if contains(keys, key) {
					props = append(props, types.DynamicProperty{
						Name: extraConfig + `["` + key + `"]`,
						Val:  option,
					})
				}
			}
		}
		if keepWhole {
			props = append(props, prop)
		}
	}
	content.PropSet = props
}

func contains(list []string, item string) bool {
	for _, value := range list {
		if value == item {
			return true
		}
	}
	return false
}

func (pc *PagingCollector) ContinueRetrievePropertiesEx(req *types.ContinueRetrievePropertiesEx) soap.HasFault {
	body := &methods.ContinueRetrievePropertiesExBody{}
	pc.pageMu.Lock()
	rest, ok := pc.pages[req.Token]
	pc.pageMu.Unlock()
	if !ok {
		body.Fault_ = simulator.Fault("unknown token", &types.InvalidArgument{InvalidProperty: "token"})
		return body
	}
	objects, token := pc.page(rest.objects, rest.size, req.Token)
	body.Res = &types.ContinueRetrievePropertiesExResponse{
		Returnval: types.RetrieveResult{Objects: objects, Token: token},
	}
	return body
}

func (pc *PagingCollector) CancelRetrievePropertiesEx(req *types.CancelRetrievePropertiesEx) soap.HasFault {
	pc.pageMu.Lock()
	delete(pc.pages, req.Token)
	pc.pageMu.Unlock()
	return &methods.CancelRetrievePropertiesExBody{Res: &types.CancelRetrievePropertiesExResponse{}}
}
