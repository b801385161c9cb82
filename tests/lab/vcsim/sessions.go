package main

import (
	"net/http"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// sessionGuard makes property reads need a live session, as vCenter does.
// 0.24.2 serves RetrieveProperties(Ex) without a session and, once the
// session is gone (TerminateSession, Logout), answers them with nothing
// instead of NotAuthenticated: a client then cannot tell an ended session
// from an object that does not exist, and never logs in again. The guard
// remembers the sessions ended through the API and answers a property read
// that carries one of their cookies with NotAuthenticated.
type sessionGuard struct {
	mu    sync.Mutex
	ended map[string]bool
}

func newSessionGuard() *sessionGuard {
	return &sessionGuard{ended: map[string]bool{}}
}

var propertyReads = map[string]bool{
	"RetrieveProperties": true, "RetrievePropertiesEx": true,
	"ContinueRetrievePropertiesEx": true, "WaitForUpdatesEx": true,
}

// answer records sessions being ended and refuses reads in ended sessions.
func (g *sessionGuard) answer(w http.ResponseWriter, r *http.Request, method *simulator.Method) bool {
	cookie := ""
	if c, err := r.Cookie(soap.SessionCookieName); err == nil {
		cookie = c.Value
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch req := method.Body.(type) {
	case *types.TerminateSession:
		for _, id := range req.SessionId {
			if id != cookie {
				g.ended[id] = true
			}
		}
	case *types.Logout:
		if cookie != "" {
			g.ended[cookie] = true
		}
	}
	if !propertyReads[method.Name] || cookie == "" || !g.ended[cookie] {
		return false
	}
	fault := &types.NotAuthenticated{}
	fault.Object = method.This
	fault.PrivilegeId = "System.View"
	writeSOAP(w, http.StatusInternalServerError, struct{ Fault *soapFault }{&soapFault{
		Code:   "ServerFaultCode",
		String: "The session is not authenticated.",
		Detail: struct{ Fault *faultDetail }{&faultDetail{Fault: fault}},
	}})
	return true
}
