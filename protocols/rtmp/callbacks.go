package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"

	"vitrine/stream"
)

// authTimeout bounds one authorisation call (a store lookup).
const authTimeout = 5 * time.Second

// statusChunkStreamID carries our onStatus messages. Any id from 3 up is
// allowed; go-rtmp answers commands on 3, and a separate one keeps our
// writes from waiting on its.
const statusChunkStreamID = 5

// controlChunkStreamID carries protocol control messages (spec 5.4).
const controlChunkStreamID = 2

// serverChunkSize is the chunk size of what we send.
const serverChunkSize = 4096

var (
	errBadApp     = errors.New("unknown application")
	errNoKey      = errors.New("missing stream key")
	errPlay       = errors.New("RTMP playback is not supported: watch over HLS or WebRTC")
	errRepublish  = errors.New("one publish per connection")
	errAuthFailed = errors.New("authorisation failed")
)

// handler receives go-rtmp's callbacks, all on the connection's goroutine.
// Returning an error ends the connection (go-rtmp first sends the failure
// status of the command, where it has one).
type handler struct {
	c     *conn
	rconn *gortmp.Conn
	sess  *session
	// published is set by the first accepted publish, for the whole life of
	// the connection.
	published bool
	scratch   bytes.Buffer
}

var _ gortmp.Handler = (*handler)(nil)

// OnServe runs after the handshake, outside go-rtmp's panic recovery.
func (h *handler) OnServe(conn *gortmp.Conn) {
	defer func() {
		if r := recover(); r != nil {
			h.c.log.Error("rtmp handler panic", "panic", r, "stack", string(debug.Stack()))
			h.c.abort(fmt.Errorf("internal error: %v", r))
		}
	}()
	h.rconn = conn
	// Raise our chunk size from the initial 128 bytes, as nginx-rtmp does:
	// fewer chunks, and a status message of ours leaves in one chunk, ahead
	// of the generic failure go-rtmp queues right after it. No write has
	// been scheduled yet, so go-rtmp's writer goroutine is not reading the
	// size concurrently.
	if err := conn.GetChunkStreamer().SelfState().SetChunkSize(serverChunkSize); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := conn.Write(ctx, controlChunkStreamID, 0, &gortmp.ChunkMessage{
		Message: &message.SetChunkSize{ChunkSize: serverChunkSize},
	}); err != nil {
		h.c.log.Debug("rtmp set chunk size", "error", err)
	}
}

func (h *handler) OnConnect(_ uint32, cmd *message.NetConnectionConnect) (err error) {
	defer h.recoverPanic(&err)
	if app := normalizeApp(cmd.Command.App); app != liveApp {
		return h.refuse(fmt.Errorf("%w %q: publish to rtmp://HOST/%s/{stream_key}", errBadApp, redactApp(cmd.Command.App), liveApp))
	}
	h.c.log.Debug("rtmp connect", "flash_ver", cmd.Command.FlashVer)
	return nil
}

func (h *handler) OnCreateStream(uint32, *message.NetConnectionCreateStream) error   { return nil }
func (h *handler) OnReleaseStream(uint32, *message.NetConnectionReleaseStream) error { return nil }
func (h *handler) OnFCPublish(uint32, *message.NetStreamFCPublish) error             { return nil }

// OnFCUnpublish and OnDeleteStream are how an encoder says it stops: detach
// the publisher at once rather than when the socket closes.
func (h *handler) OnFCUnpublish(uint32, *message.NetStreamFCUnpublish) (err error) {
	defer h.recoverPanic(&err)
	h.endSession()
	return nil
}

func (h *handler) OnDeleteStream(_ uint32, cmd *message.NetStreamDeleteStream) (err error) {
	defer h.recoverPanic(&err)
	if h.sess != nil && h.sess.msid == cmd.StreamID {
		h.endSession()
	}
	return nil
}

func (h *handler) OnPublish(ctx *gortmp.StreamContext, _ uint32, cmd *message.NetStreamPublish) (err error) {
	defer h.recoverPanic(&err)
	if h.published {
		return h.refuse(errRepublish)
	}
	key := streamKey(cmd.PublishingName)
	if key == "" {
		h.sendStatus(ctx.StreamID, message.NetStreamOnStatusCodePublishBadName, errNoKey.Error()+": publish to rtmp://HOST/live/{stream_key}")
		return h.refuse(errNoKey)
	}
	srv := h.c.srv
	actx, cancel := context.WithTimeout(srv.ctx, authTimeout)
	id, err := srv.cfg.Auth.AuthorizePublish(actx, stream.PublishRequest{Key: key, Protocol: "rtmp", Remote: h.c.remote})
	cancel()
	if err != nil {
		switch {
		case errors.Is(err, stream.ErrUnauthorized), errors.Is(err, stream.ErrNotLive):
			h.sendStatus(ctx.StreamID, message.NetStreamOnStatusCodePublishBadName, err.Error())
			return h.refuse(fmt.Errorf("publish with key %s: %w", redactKey(key), err))
		default:
			// Our failure, not the publisher's: log it as such.
			h.sendStatus(ctx.StreamID, message.NetStreamOnStatusCodePublishFailed, errAuthFailed.Error())
			return fmt.Errorf("%w for key %s: %w", errAuthFailed, redactKey(key), err)
		}
	}
	// Refuse a second publisher now, while the encoder still waits for the
	// publish answer; Hub.Publish checks again once tracks are known.
	if st, ok := srv.cfg.Hub.Get(id); ok && st.Online() {
		h.sendStatus(ctx.StreamID, message.NetStreamOnStatusCodePublishBadName, stream.ErrAlreadyPublishing.Error())
		return h.refuse(fmt.Errorf("stream %s: %w", id, stream.ErrAlreadyPublishing))
	}
	h.published = true
	h.sess = newSession(h, id, ctx.StreamID)
	h.sess.log.Info("rtmp publish accepted", "key", redactKey(key))
	return nil
}

func (h *handler) OnPlay(ctx *gortmp.StreamContext, _ uint32, _ *message.NetStreamPlay) (err error) {
	defer h.recoverPanic(&err)
	h.sendStatus(ctx.StreamID, message.NetStreamOnStatusCodePlayFailed, errPlay.Error())
	return h.refuse(errPlay)
}

func (h *handler) OnSetDataFrame(_ uint32, data *message.NetStreamSetDataFrame) (err error) {
	defer h.recoverPanic(&err)
	if h.sess != nil {
		h.sess.onMetadata(data.Payload)
	}
	return nil
}

func (h *handler) OnAudio(ts uint32, payload io.Reader) (err error) {
	defer h.recoverPanic(&err)
	if h.sess == nil {
		return nil
	}
	b, err := h.read(payload)
	if err != nil {
		return err
	}
	return h.fail(h.sess.onAudio(ts, b))
}

func (h *handler) OnVideo(ts uint32, payload io.Reader) (err error) {
	defer h.recoverPanic(&err)
	if h.sess == nil {
		return nil
	}
	b, err := h.read(payload)
	if err != nil {
		return err
	}
	return h.fail(h.sess.onVideo(ts, b))
}

func (h *handler) OnUnknownMessage(uint32, message.Message) error { return nil }
func (h *handler) OnUnknownCommandMessage(uint32, *message.CommandMessage) error {
	return nil
}
func (h *handler) OnUnknownDataMessage(uint32, *message.DataMessage) error { return nil }

// OnClose runs in go-rtmp's Conn.Close, outside its panic recovery.
func (h *handler) OnClose() {
	defer func() {
		if r := recover(); r != nil {
			h.c.log.Error("rtmp handler panic", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	h.finish()
}

// finish detaches the publisher; it is idempotent.
func (h *handler) finish() { h.endSession() }

func (h *handler) endSession() {
	if h.sess != nil {
		h.sess.close()
	}
}

// read copies a message out of go-rtmp's chunk buffer, which it reuses, into
// a scratch buffer the session must copy from what it keeps.
func (h *handler) read(r io.Reader) ([]byte, error) {
	h.scratch.Reset()
	if _, err := h.scratch.ReadFrom(r); err != nil {
		return nil, err
	}
	return h.scratch.Bytes(), nil
}

// refuse records and logs a refused request; the returned error makes
// go-rtmp answer with a failure status and close the connection.
func (h *handler) refuse(err error) error {
	r := &refusal{err}
	h.c.setReason(r)
	attrs := []any{"reason", err}
	if h.sess != nil {
		attrs = append(attrs, "stream", h.sess.id)
	}
	h.c.log.Warn("rtmp request refused", attrs...)
	return r
}

// fail records err as the reason the connection ends.
func (h *handler) fail(err error) error {
	if err != nil {
		h.c.setReason(err)
	}
	return err
}

// recoverPanic turns a panic in our code into the end of this connection only.
// go-rtmp recovers around its message loop too, but this says where.
func (h *handler) recoverPanic(err *error) {
	if r := recover(); r != nil {
		h.c.log.Error("rtmp handler panic", "panic", r, "stack", string(debug.Stack()))
		*err = fmt.Errorf("internal error: %v", r)
		h.c.setReason(*err)
	}
}

// sendStatus sends an onStatus error on message stream msid. go-rtmp sends
// only a generic "Publish failed." for a refused publish; this tells the
// encoder's user why (ffmpeg prints "Server error: ...").
func (h *handler) sendStatus(msid uint32, code message.NetStreamOnStatusCode, desc string) {
	if h.rconn == nil {
		return
	}
	var body bytes.Buffer
	enc := message.NewAMFEncoder(&body, message.EncodingTypeAMF0)
	status := &message.NetStreamOnStatus{InfoObject: message.NetStreamOnStatusInfoObject{
		Level: message.NetStreamOnStatusLevelError, Code: code, Description: desc,
	}}
	if err := message.EncodeBodyAnyValues(enc, status); err != nil {
		h.c.log.Debug("rtmp encode status", "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := h.rconn.Write(ctx, statusChunkStreamID, 0, &gortmp.ChunkMessage{
		StreamID: msid,
		Message: &message.CommandMessage{
			CommandName: "onStatus", Encoding: message.EncodingTypeAMF0, Body: &body,
		},
	})
	if err != nil {
		h.c.log.Debug("rtmp send status", "error", err)
	}
}

func (h *handler) logAttrs() []any {
	if h.sess == nil {
		return nil
	}
	return h.sess.logAttrs()
}
