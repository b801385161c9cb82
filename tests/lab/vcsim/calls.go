package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
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
//
// It also keeps each answered call's method and its begun and answered times
// (Unix seconds), the last maxTimedCalls of them, served oldest answer first
// at GET /lab/calls/log: a benchmark finds the longest chain of calls that
// did not overlap, the latency floor of a command.
type callLog struct {
	mu       sync.Mutex
	begun    map[string]int
	answered map[string]int
	timed    []timedCall
}

// timedCall is one answered call of the log.
type timedCall struct {
	Method   string  `json:"method"`
	Begun    float64 `json:"begun"`
	Answered float64 `json:"answered"`
}

const maxTimedCalls = 100000

func newCallLog() *callLog {
	return &callLog{begun: map[string]int{}, answered: map[string]int{}}
}

// begin counts the call and returns its start, for end.
func (c *callLog) begin(method string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.begun[method]++
	return time.Now()
}

func (c *callLog) end(method string, begun time.Time) {
	answered := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered[method]++
	if len(c.timed) >= maxTimedCalls {
		c.timed = append(c.timed[:0], c.timed[len(c.timed)-maxTimedCalls/2:]...)
	}
	c.timed = append(c.timed, timedCall{Method: method, Begun: unixSeconds(begun),
		Answered: unixSeconds(answered)})
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// serveLog answers GET /lab/calls/log.
func (c *callLog) serveLog(w http.ResponseWriter) {
	c.mu.Lock()
	body, err := json.Marshal(append([]timedCall{}, c.timed...))
	c.mu.Unlock()
	writeJSON(w, body, err)
}

// serve answers GET /lab/calls.
func (c *callLog) serve(w http.ResponseWriter) {
	c.mu.Lock()
	body, err := json.Marshal(map[string]map[string]int{"begun": c.begun, "answered": c.answered})
	c.mu.Unlock()
	writeJSON(w, body, err)
}

// writeJSON answers with a JSON body marshalled under the log's lock, or the error.
func writeJSON(w http.ResponseWriter, body []byte, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
