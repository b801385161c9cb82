package main

import (
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// LabAuthorization answers privilege questions from the permissions actually
// set, where 0.24.2 grants everything to everyone:
//   - the privileges of a user on an entity are those of the roles of the
//     user's permissions on the nearest entity that has any (the entity itself,
//     or an ancestor whose permission propagates), as in vCenter;
//   - SetEntityPermissions adds or updates a principal's permission instead of
//     replacing the entity's whole list;
//   - AddAuthorizationRole returns the new role's id (0.24.2 always returns 0).
//
// Group membership is not modelled: only user permissions count.
type LabAuthorization struct {
	simulator.AuthorizationManager
}

// readOnly are the System privileges every role holds.
var readOnly = []string{"System.Anonymous", "System.Read", "System.View"}

func installAuthorization(user string, role int32) {
	ref := vpx.ServiceContent.AuthorizationManager
	if ref == nil {
		return
	}
	original := simulator.Map.Get(*ref).(*simulator.AuthorizationManager)
	auth := &LabAuthorization{AuthorizationManager: *original}
	simulator.Map.Put(auth)
	// The lab's user holds Admin on the root folder, as a vCenter's administrator
	// does, unless the scenario gives it another role.
	root := vpx.ServiceContent.RootFolder
	auth.SetEntityPermissions(&types.SetEntityPermissions{
		This:   *ref,
		Entity: root,
		Permission: []types.Permission{{
			Entity:    &root,
			Principal: user,
			RoleId:    role,
			Propagate: true,
		}},
	})
}

// samePrincipal compares DOMAIN\user and user@domain forms, ignoring case.
func samePrincipal(a, b string) bool {
	return normalPrincipal(a) == normalPrincipal(b)
}

func normalPrincipal(name string) string {
	name = strings.ToLower(name)
	if domain, user, found := strings.Cut(name, `\`); found {
		return user + "@" + domain
	}
	return name
}

func (m *LabAuthorization) permissionsOn(ref types.ManagedObjectReference) []types.Permission {
	body := m.RetrieveEntityPermissions(&types.RetrieveEntityPermissions{Entity: ref})
	return body.(*methods.RetrieveEntityPermissionsBody).Res.Returnval
}

// privileges held by user on the entity: the nearest level with a permission wins.
func (m *LabAuthorization) privileges(user string, ref types.ManagedObjectReference) map[string]bool {
	held := map[string]bool{}
	roles := object.AuthorizationRoleList(m.RoleList)
	first := true
	for {
		var found bool
		for _, p := range m.permissionsOn(ref) {
			if p.Group || !samePrincipal(p.Principal, user) || (!first && !p.Propagate) {
				continue
			}
			found = true
			if role := roles.ById(p.RoleId); role != nil {
				for _, id := range role.Privilege {
					held[id] = true
				}
			}
		}
		if found {
			for _, id := range readOnly {
				held[id] = true
			}
			return held
		}
		entity, ok := simulator.Map.Get(ref).(mo.Entity)
		if !ok || entity.Entity().Parent == nil {
			return held
		}
		ref = *entity.Entity().Parent
		first = false
	}
}

func (m *LabAuthorization) entityPrivileges(user string, entities []types.ManagedObjectReference, ids []string) []types.EntityPrivilege {
	var result []types.EntityPrivilege
	for _, e := range entities {
		held := m.privileges(user, e)
		priv := types.EntityPrivilege{Entity: e}
		for _, id := range ids {
			priv.PrivAvailability = append(priv.PrivAvailability,
				types.PrivilegeAvailability{PrivId: id, IsGranted: held[id]})
		}
		result = append(result, priv)
	}
	return result
}

func sessionUser(ctx *simulator.Context) string {
	if ctx.Session == nil {
		return ""
	}
	return ctx.Session.UserName
}

func (m *LabAuthorization) HasPrivilegeOnEntities(ctx *simulator.Context, req *types.HasPrivilegeOnEntities) soap.HasFault {
	return &methods.HasPrivilegeOnEntitiesBody{Res: &types.HasPrivilegeOnEntitiesResponse{
		Returnval: m.entityPrivileges(sessionUser(ctx), req.Entity, req.PrivId),
	}}
}

func (m *LabAuthorization) HasPrivilegeOnEntity(ctx *simulator.Context, req *types.HasPrivilegeOnEntity) soap.HasFault {
	held := m.privileges(sessionUser(ctx), req.Entity)
	granted := make([]bool, len(req.PrivId))
	for i, id := range req.PrivId {
		granted[i] = held[id]
	}
	return &methods.HasPrivilegeOnEntityBody{Res: &types.HasPrivilegeOnEntityResponse{Returnval: granted}}
}

func (m *LabAuthorization) HasUserPrivilegeOnEntities(req *types.HasUserPrivilegeOnEntities) soap.HasFault {
	return &methods.HasUserPrivilegeOnEntitiesBody{Res: &types.HasUserPrivilegeOnEntitiesResponse{
		Returnval: m.entityPrivileges(req.UserName, req.Entities, req.PrivId),
	}}
}

func (m *LabAuthorization) FetchUserPrivilegeOnEntities(req *types.FetchUserPrivilegeOnEntities) soap.HasFault {
	var result []types.UserPrivilegeResult
	for _, e := range req.Entities {
		var ids []string
		for id := range m.privileges(req.UserName, e) {
			ids = append(ids, id)
		}
		result = append(result, types.UserPrivilegeResult{Entity: e, Privileges: ids})
	}
	return &methods.FetchUserPrivilegeOnEntitiesBody{Res: &types.FetchUserPrivilegeOnEntitiesResponse{
		Returnval: result,
	}}
}

func (m *LabAuthorization) SetEntityPermissions(req *types.SetEntityPermissions) soap.HasFault {
	merged := m.permissionsOn(req.Entity)
	for _, p := range req.Permission {
		p.Entity = &req.Entity
		replaced := false
		for i := range merged {
			if merged[i].Group == p.Group && samePrincipal(merged[i].Principal, p.Principal) {
				merged[i] = p
				replaced = true
			}
		}
		if !replaced {
			merged = append(merged, p)
		}
	}
	return m.AuthorizationManager.SetEntityPermissions(&types.SetEntityPermissions{
		This: req.This, Entity: req.Entity, Permission: merged,
	})
}

func (m *LabAuthorization) AddAuthorizationRole(req *types.AddAuthorizationRole) soap.HasFault {
	body := m.AuthorizationManager.AddAuthorizationRole(req).(*methods.AddAuthorizationRoleBody)
	if body.Res != nil {
		if role := object.AuthorizationRoleList(m.RoleList).ByName(req.Name); role != nil {
			body.Res.Returnval = role.RoleId
		}
	}
	return body
}
