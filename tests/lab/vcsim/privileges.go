package main

import (
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// privilegeGuard makes the calls in enforced need their privilege, as vCenter
// does; 0.24.2 checks none. What a user holds on the object is what
// LabAuthorization answers to HasPrivilegeOnEntities (the nearest permission
// decides, propagation honoured). A refused call is not executed and is
// answered with NoPermission naming the object and the privilege.
//
// The user of a session is recorded when Login answers with its cookie, and
// forgotten at Logout and TerminateSession; a call without a known session is
// left to the simulator. The lab's administrator holds Admin on the root
// folder and is never refused; the unprepared scenario's service account
// holds ReadOnly until it is granted the guide's role, so it is.
type privilegeGuard struct {
	mu    sync.Mutex
	users map[string]string // session cookie -> user name
}

// enforcement is the privilege a call needs and the object it needs it on
// (nil: the call names no object the lab knows; the simulator answers it).
type enforcement struct {
	privilege string
	object    func(body interface{}) *types.ManagedObjectReference
}

var enforced = map[string]enforcement{
	// FileManager.MakeDirectory: Datastore.FileManagement on the datastore of the path.
	"MakeDirectory": {"Datastore.FileManagement", func(body interface{}) *types.ManagedObjectReference {
		req := body.(*types.MakeDirectory)
		return datastoreOfPath(req.Datacenter, req.Name)
	}},
}

func newPrivilegeGuard() *privilegeGuard {
	return &privilegeGuard{users: map[string]string{}}
}

func sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(soap.SessionCookieName); err == nil {
		return c.Value
	}
	return ""
}

// loggedIn records the user of the session that a Login answer opened.
func (g *privilegeGuard) loggedIn(w http.ResponseWriter, req *types.Login) {
	response := http.Response{Header: w.Header()}
	for _, c := range response.Cookies() {
		if c.Name == soap.SessionCookieName && c.Value != "" {
			g.mu.Lock()
			g.users[c.Value] = req.UserName
			g.mu.Unlock()
		}
	}
}

// answer refuses an enforced call whose session's user lacks the privilege;
// false leaves the call to the simulator.
func (g *privilegeGuard) answer(w http.ResponseWriter, r *http.Request, method *simulator.Method) bool {
	cookie := sessionCookie(r)
	g.mu.Lock()
	switch req := method.Body.(type) {
	case *types.Logout:
		delete(g.users, cookie)
	case *types.TerminateSession:
		for _, id := range req.SessionId {
			delete(g.users, id)
		}
	}
	user, known := g.users[cookie]
	g.mu.Unlock()
	rule, ok := enforced[method.Name]
	if !known || !ok {
		return false
	}
	object := rule.object(method.Body)
	if object == nil || holds(user, *object, rule.privilege) {
		return false
	}
	log.Printf("%s refused: %s lacks %s on %s", method.Name, user, rule.privilege, *object)
	fault := &types.NoPermission{Object: *object, PrivilegeId: rule.privilege}
	writeSOAP(w, http.StatusInternalServerError, struct{ Fault *soapFault }{&soapFault{
		Code:   "ServerFaultCode",
		String: "Permission to perform this operation was denied.",
		Detail: struct{ Fault *faultDetail }{&faultDetail{Fault: fault}},
	}})
	return true
}

// holds says whether the user holds the privilege on the object.
func holds(user string, object types.ManagedObjectReference, privilege string) bool {
	ref := vpx.ServiceContent.AuthorizationManager
	auth, ok := simulator.Map.Get(*ref).(*LabAuthorization)
	if !ok {
		return true
	}
	var held map[string]bool
	simulator.Map.WithLock(auth, func() {
		held = auth.privileges(user, object)
	})
	return held[privilege]
}

// datastoreOfPath is the datastore that "[name] path" names in the datacenter
// (any datacenter when nil), or nil.
func datastoreOfPath(datacenter *types.ManagedObjectReference, path string) *types.ManagedObjectReference {
	if !strings.HasPrefix(path, "[") {
		return nil
	}
	name, _, found := strings.Cut(path[1:], "]")
	if !found {
		return nil
	}
	for _, obj := range simulator.Map.All("Datastore") {
		ds := obj.(*simulator.Datastore)
		if ds.Name == name && (datacenter == nil || within(ds.Self, *datacenter)) {
			ref := ds.Self
			return &ref
		}
	}
	return nil
}

// within says whether the entity is the ancestor or below it.
func within(ref, ancestor types.ManagedObjectReference) bool {
	for {
		if ref == ancestor {
			return true
		}
		entity, ok := simulator.Map.Get(ref).(mo.Entity)
		if !ok || entity.Entity().Parent == nil {
			return false
		}
		ref = *entity.Entity().Parent
	}
}
