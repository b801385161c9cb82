package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// labSession is one live vCenter session as GET /lab/sessions serves it.
type labSession struct {
	Key            string    `json:"key"`
	UserName       string    `json:"userName"`
	UserAgent      string    `json:"userAgent"`
	IPAddress      string    `json:"ipAddress"`
	LoginTime      time.Time `json:"loginTime"`
	LastActiveTime time.Time `json:"lastActiveTime"`
}

// serveSessions answers GET /lab/sessions: every live session (logged in and
// neither logged out, terminated nor expired), oldest login first, so that a
// test compares the list before and after a client's run and sees a session
// the client left behind. The cookie a client sends is the session's key.
//
// The list is read as SessionManager.sessionList is: 0.24.2 fills that
// property from its session map when a session reads the SessionManager
// (simulator.Session.Get). The read here goes through a throwaway Session
// value, not a login: it creates no session, and changes no session's
// lastActiveTime. The in-process client that shapes the inventory at start
// never logs in (it uses the simulator's internal context), so it is not in
// the list.
func serveSessions(w http.ResponseWriter) {
	reader := simulator.Session{Registry: simulator.NewRegistry()}
	ref := simulator.Map.SessionManager().Reference()
	manager, ok := reader.Get(ref).(*simulator.SessionManager)
	if !ok {
		http.Error(w, "no SessionManager", http.StatusInternalServerError)
		return
	}
	sessions := []labSession{}
	for _, s := range manager.SessionList {
		sessions = append(sessions, fromUserSession(s))
	}
	sort.Slice(sessions, func(i, j int) bool {
		if !sessions[i].LoginTime.Equal(sessions[j].LoginTime) {
			return sessions[i].LoginTime.Before(sessions[j].LoginTime)
		}
		return sessions[i].Key < sessions[j].Key
	})
	body, err := json.Marshal(sessions)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func fromUserSession(s types.UserSession) labSession {
	return labSession{Key: s.Key, UserName: s.UserName, UserAgent: s.UserAgent, IPAddress: s.IpAddress,
		LoginTime: s.LoginTime.UTC(), LastActiveTime: s.LastActiveTime.UTC()}
}
