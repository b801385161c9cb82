package main

import (
	"encoding/json"
	"net/http"
	"sync"
)

// callLog counts the SOAP calls that reach the lab, by method: a call is
// begun when its request arrives (before -delay, -method-delay or a
// -fail-method act on it) and answered once its response is written, even to
// a client that went away. GET /lab/calls serves both counts as JSON,
//
//	{"begun": {"PowerOnVM_Task": 1, ...}, "answered": {...}}
//
// so that a test acts at the moment a call is under way (held by a
// -method-delay: begun > answered) and knows when a call whose client gave up
// was carried out all the same, instead of guessing either with a sleep.
type callLog struct {
	mu       sync.Mutex
	begun    map[string]int
	answered map[string]int
}

func newCallLog() *callLog {
	return &callLog{begun: map[string]int{}, answered: map[string]int{}}
}

func (c *callLog) begin(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.begun[method]++
}

func (c *callLog) end(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered[method]++
}

// serve answers GET /lab/calls.
func (c *callLog) serve(w http.ResponseWriter) {
	c.mu.Lock()
	body, err := json.Marshal(map[string]map[string]int{"begun": c.begun, "answered": c.answered})
	c.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
