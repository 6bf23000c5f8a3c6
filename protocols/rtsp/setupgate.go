package rtsp

import (
	"sync"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

// setupGate handles one SETUP at a time across the server. gortsplib
// v4.16.2 has a session assign its transport outside the stream's lock
// while another session's SETUP reads it (ServerStream.readerAdd checking
// UDP ports), a data race when readers join a stream together. v4.16.3 is
// an empty release and v5 is not available to this build, so the gate
// closes the window from here: OnRequest and OnResponse bracket the whole
// request on the connection's goroutine, and SETUPs are rare and quick.
type setupGate struct {
	mu      sync.Mutex
	holders sync.Map // *gortsplib.ServerConn -> struct{}: connections inside a SETUP
}

func (g *setupGate) enter(sc *gortsplib.ServerConn, req *base.Request) {
	if req.Method != base.Setup {
		return
	}
	g.mu.Lock()
	g.holders.Store(sc, struct{}{})
}

// leave releases the gate if sc holds it; also called when a connection
// closes, so that a request that never got its response cannot keep it.
func (g *setupGate) leave(sc *gortsplib.ServerConn) {
	if _, ok := g.holders.LoadAndDelete(sc); ok {
		g.mu.Unlock()
	}
}

var (
	_ gortsplib.ServerHandlerOnRequest  = (*handler)(nil)
	_ gortsplib.ServerHandlerOnResponse = (*handler)(nil)
)

func (h *handler) OnRequest(sc *gortsplib.ServerConn, req *base.Request) { h.s.setups.enter(sc, req) }

func (h *handler) OnResponse(sc *gortsplib.ServerConn, _ *base.Response) { h.s.setups.leave(sc) }
