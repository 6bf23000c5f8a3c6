package rtsp

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"unicode"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// handler receives gortsplib's callbacks. Request callbacks of one session
// run on that session's goroutine; packet callbacks on the connection's (TCP)
// or the UDP listener's goroutine. It dispatches on the session's user data:
// a *publishSession after an accepted ANNOUNCE, a *readSession after a
// SETUP for reading.
type handler struct{ s *Server }

var (
	_ gortsplib.ServerHandlerOnConnOpen         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnConnClose        = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSessionOpen      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSessionClose     = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDescribe         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnAnnounce         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSetup            = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPlay             = (*handler)(nil)
	_ gortsplib.ServerHandlerOnRecord           = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPacketsLost      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDecodeError      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnStreamWriteError = (*handler)(nil)
)

// refusal is a request the server turned down for a reason the client can
// act on. Returning it from a request callback makes gortsplib send the
// response and then close the connection, so a refused client holds nothing.
type refusal struct {
	status base.StatusCode
	reason string
}

func (r *refusal) Error() string {
	return fmt.Sprintf("%d %s", r.status, r.reason)
}

// response is the RTSP answer to a refusal. The reason goes in the status
// line, which is what encoders print ("method ANNOUNCE failed: 403 Forbidden
// (stream key not recognised)"): RTSP error responses have no body clients
// show.
func (r *refusal) response() *base.Response {
	msg := base.StatusMessages[r.status]
	if r.reason != "" {
		// A status line ends at the first line break.
		msg += " (" + strings.Map(func(c rune) rune {
			if unicode.IsControl(c) {
				return ' '
			}
			return c
		}, r.reason) + ")"
	}
	return &base.Response{StatusCode: r.status, StatusMessage: msg}
}

func refuse(status base.StatusCode, format string, args ...any) *refusal {
	return &refusal{status: status, reason: fmt.Sprintf(format, args...)}
}

func ok() *base.Response { return &base.Response{StatusCode: base.StatusOK} }

// recoverPanic turns a panic in our code into a 500 for this request only:
// gortsplib does not recover around handlers, and a panic there would take
// the whole process down.
func (h *handler) recoverPanic(res **base.Response, err *error) {
	if p := recover(); p != nil {
		h.s.log.Error("rtsp handler panic", "panic", p, "stack", string(debug.Stack()))
		*res = &base.Response{StatusCode: base.StatusInternalServerError}
		*err = fmt.Errorf("internal error: %v", p)
	}
}

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.s.log.Debug("rtsp connection opened", "remote", ctx.Conn.NetConn().RemoteAddr().String())
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.s.setups.leave(ctx.Conn)
	attrs := []any{"remote", ctx.Conn.NetConn().RemoteAddr().String()}
	var ref *refusal
	switch {
	case ctx.Error == nil, errors.As(ctx.Error, &ref), isNormalEnd(ctx.Error):
		// Refusals were logged when made.
		h.s.log.Debug("rtsp connection closed", append(attrs, "reason", ctx.Error)...)
	default:
		// A protocol error, garbage, a timeout: this connection only.
		h.s.log.Info("rtsp connection dropped", append(attrs, "error", ctx.Error)...)
	}
}

// isNormalEnd tells the ways a connection or session ends without anyone
// doing something wrong.
func isNormalEnd(err error) bool {
	var (
		tornDown  liberrors.ErrServerSessionTornDown
		notInUse  liberrors.ErrServerSessionNotInUse
		terminate liberrors.ErrServerTerminated
	)
	return errors.Is(err, io.EOF) || errors.As(err, &tornDown) || errors.As(err, &notInUse) ||
		errors.As(err, &terminate)
}

func (h *handler) OnSessionOpen(*gortsplib.ServerHandlerOnSessionOpenCtx) {
	h.s.sessionOpened()
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	defer h.s.sessionClosed()
	switch sess := ctx.Session.UserData().(type) {
	case *publishSession:
		sess.close(ctx.Error)
	case *readSession:
		sess.close(ctx.Error)
	}
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (res *base.Response, st *gortsplib.ServerStream, err error) {
	defer h.recoverPanic(&res, &err)
	return h.s.describe(ctx)
}

func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (res *base.Response, err error) {
	defer h.recoverPanic(&res, &err)
	return h.s.announce(ctx)
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (res *base.Response, st *gortsplib.ServerStream, err error) {
	defer h.recoverPanic(&res, &err)
	if ps, isPub := ctx.Session.UserData().(*publishSession); isPub {
		return ps.setup(ctx)
	}
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		// gortsplib only lets an accepted ANNOUNCE get here; be explicit.
		return refuse(base.StatusMethodNotValidInThisState, "ANNOUNCE first").response(), nil, nil
	}
	return h.s.setupRead(ctx)
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (res *base.Response, err error) {
	defer h.recoverPanic(&res, &err)
	rs, isRead := ctx.Session.UserData().(*readSession)
	if !isRead {
		return refuse(base.StatusMethodNotValidInThisState, "SETUP first").response(), nil
	}
	return rs.play(ctx)
}

func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (res *base.Response, err error) {
	defer h.recoverPanic(&res, &err)
	ps, isPub := ctx.Session.UserData().(*publishSession)
	if !isPub {
		return refuse(base.StatusMethodNotValidInThisState, "ANNOUNCE first").response(), nil
	}
	return ps.record(ctx)
}

func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	if ps, isPub := ctx.Session.UserData().(*publishSession); isPub {
		ps.packetsLost(ctx.Lost)
	}
}

func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	switch sess := ctx.Session.UserData().(type) {
	case *publishSession:
		sess.errs.warn("rtsp RTP/RTCP decode error", ctx.Error)
	case *readSession:
		sess.errs.warn("rtsp RTCP decode error", ctx.Error)
	}
}

// OnStreamWriteError is a reader whose queue is full (a slow network): it
// loses packets, as a slow hub reader loses units; others are unaffected.
func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	if rs, isRead := ctx.Session.UserData().(*readSession); isRead {
		rs.errs.warn("rtsp reader too slow: packets dropped", ctx.Error)
	}
}
