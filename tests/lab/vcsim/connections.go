package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// usedConnections counts the connections (TCP, each with its TLS handshake)
// that carried a client's request, served at GET /lab/connections as
// {"used": N}: a test tells a client that sends its requests over one
// connection from one that opens a connection for each. The lab's own
// GET /lab/... requests are not clients' requests: a connection that carries
// only those is not counted.
var usedConnections int64

type connKey struct{}

// labConn is one connection's mark: counted once, at its first client request.
type labConn struct{ counted int32 }

// countConnections gives each new connection of the server its mark.
func countConnections(server *http.Server) {
	previous := server.ConnContext
	server.ConnContext = func(ctx context.Context, conn net.Conn) context.Context {
		if previous != nil {
			ctx = previous(ctx, conn)
		}
		return context.WithValue(ctx, connKey{}, &labConn{})
	}
}

// noteConnection counts the request's connection if this is its first client request.
func noteConnection(r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/lab/") {
		return
	}
	if c, ok := r.Context().Value(connKey{}).(*labConn); ok && atomic.CompareAndSwapInt32(&c.counted, 0, 1) {
		atomic.AddInt64(&usedConnections, 1)
	}
}

// serveConnections answers GET /lab/connections.
func serveConnections(w http.ResponseWriter) {
	body, err := json.Marshal(map[string]int64{"used": atomic.LoadInt64(&usedConnections)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
