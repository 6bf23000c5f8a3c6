package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vitrine/internal/testenv"
	"vitrine/protocols/rtmp"
	"vitrine/store"
	"vitrine/store/sqlite"
	"vitrine/stream"
)

// env is a recorder on a real hub fed by the real RTMP server, with the
// embedded store: ffmpeg publishes, the recorder writes.
type env struct {
	t    *testing.T
	st   *sqlite.Store
	hub  *stream.Hub
	rtmp *rtmp.Server
	rec  *Recorder
	srv  *httptest.Server
	log  *testenv.LogBuffer
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "vitrine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), nil))
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 1024, ReconnectWindow: 5 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// The key is the campaign id.
	auth := stream.AuthorizerFunc(func(_ context.Context, req stream.PublishRequest) (string, error) { return req.Key, nil })
	rs, err := rtmp.New(rtmp.Config{Listen: "127.0.0.1:0", Hub: hub, Auth: auth, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Hub: hub, Store: st, Dir: filepath.Join(dir, "recordings"), Logger: log}
	if mutate != nil {
		mutate(&cfg)
	}
	rec, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, hub: hub, rtmp: rs, rec: rec, log: logs}
	t.Cleanup(func() {
		hub.Close()
		rs.Close()
		rec.Close()
	})
	mux := http.NewServeMux()
	rec.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) start() {
	if err := e.rec.Start(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) campaign() string {
	c := &store.Campaign{Title: "t", StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour), Visibility: "suggested"}
	if err := e.st.CreateCampaign(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

// push publishes seconds of the default source to campaign id and waits.
func (e *env) push(id string, seconds float64) {
	e.t.Helper()
	p := testenv.Push(e.t, testenv.DefaultSource(seconds), "rtmp://"+e.rtmp.Addr().String()+"/live/"+id)
	if err, out := p.Wait(time.Duration(seconds*3+10) * time.Second); err != nil {
		e.t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// recorded pushes seconds to a new campaign, ends its live and returns
// the campaign and its finished recording as served.
func (e *env) recorded(seconds float64) (string, *recording) {
	e.t.Helper()
	id := e.campaign()
	e.push(id, seconds)
	e.hub.End(id)
	e.waitState(id, store.RecordingReady)
	rc, err := e.rec.load(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id, rc
}

func (e *env) waitState(id, state string) *store.Recording {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, err := e.st.GetRecording(e.t.Context(), id)
		if err == nil && rec.State == state {
			return rec
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("recording of %s: %+v %v; want %s", id, rec, err, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWriteErrorStopsRecordingNotLive: a full disk stops the recording with
// an alert (log, metrics, state with the error), the live goes on, and what
// was synced before still plays.
func TestWriteErrorStopsRecordingNotLive(t *testing.T) {
	testenv.RequireFFmpeg(t)
	e := newEnv(t, nil)
	var writes atomic.Int32
	e.rec.fs.write = func(f *os.File, b []byte) error {
		if strings.HasSuffix(f.Name(), ".m4s") && writes.Add(1) > 3 {
			return syscall.ENOSPC
		}
		_, err := f.Write(b)
		return err
	}
	e.start()
	id := e.campaign()
	e.push(id, 6) // the publisher finished: the live was not cut
	rec := e.waitState(id, store.RecordingFailed)
	if !strings.Contains(rec.Error, "no space left on device") || rec.ErrorAt == nil {
		t.Fatalf("recording after a full disk: %+v", rec)
	}
	if !strings.Contains(e.log.String(), "RECORDING STOPPED") {
		t.Fatal("no alert in the log")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.rec.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, mf := range mfs {
		switch mf.GetName() {
		case "vitrine_recorder_write_errors_total", "vitrine_recorder_stream_write_errors_total":
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 1 {
				t.Fatalf("%s = %v, want 1", mf.GetName(), v)
			}
			found++
		}
	}
	if found != 2 {
		t.Fatalf("write error metrics: %d of 2", found)
	}
	if got := e.rec.metrics.writeErrors.Load(); got != 1 {
		t.Fatalf("write errors metric: %d", got)
	}
	st, ok := e.hub.Get(id)
	if !ok || st.Stats().UnitsIn < 300 {
		t.Fatalf("the live did not go on: %v", ok)
	}
	e.hub.End(id)
	// The three synced segments play; nothing beyond them is served.
	res, err := http.Get(e.srv.URL + "/replay/" + id + "/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || bytes.Count(b, []byte(".m4s")) != 3 {
		t.Fatalf("replay after the failure: %d\n%s", res.StatusCode, b)
	}
	s, err := e.rec.Status(t.Context(), id)
	if err != nil || s.State != store.RecordingFailed || s.Segments != 3 {
		t.Fatalf("status: %+v %v", s, err)
	}
}

// TestDownloadWhileFinalising: right after the end, downloads answer 202
// with Retry-After and the progress, then the file.
func TestDownloadWhileFinalising(t *testing.T) {
	testenv.RequireFFmpeg(t)
	e := newEnv(t, nil)
	release := make(chan struct{})
	var once atomic.Bool
	e.rec.finaliseHook = func() {
		if once.CompareAndSwap(false, true) {
			<-release
		}
	}
	e.start()
	id := e.campaign()
	e.push(id, 3)
	e.hub.End(id)
	e.waitState(id, store.RecordingFinalising)

	do := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/x", nil)
		if err := e.rec.ServeMP4(w, r, id, ""); err != nil {
			e.rec.httpError(w, r, err)
		}
		return w
	}
	w := do()
	var body struct {
		State    string  `json:"state"`
		Progress float64 `json:"progress"`
	}
	if w.Code != http.StatusAccepted || w.Header().Get("Retry-After") == "" ||
		json.Unmarshal(w.Body.Bytes(), &body) != nil || body.State != "finalising" {
		t.Fatalf("download while finalising: %d %v %s", w.Code, w.Header(), w.Body)
	}
	close(release)
	e.waitState(id, store.RecordingReady)
	if w := do(); w.Code != 200 || w.Header().Get("Content-Length") == "" {
		t.Fatalf("download once ready: %d", w.Code)
	}
}

// TestExportMatchesPMP4: the streamed MP4 is byte for byte what pmp4
// writes with the payloads in hand, so its layout (moov offsets, sample
// order) is pmp4's.
func TestExportMatchesPMP4(t *testing.T) {
	testenv.RequireFFmpeg(t)
	e := newEnv(t, nil)
	e.start()
	_, rc := e.recorded(3)
	m, err := e.rec.buildMP4(rc, rc.segs, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rd := m.reader()
	streamed, err := io.ReadAll(rd)
	rd.Close()
	if err != nil || int64(len(streamed)) != m.size {
		t.Fatalf("streamed %d bytes of %d: %v", len(streamed), m.size, err)
	}

	// The same presentation, with real payloads, through pmp4.Marshal.
	keepPresentation = true
	defer func() { keepPresentation = false }()
	m2, err := e.rec.buildMP4(rc, rc.segs, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	p := m2.pres
	for i, tr := range p.Tracks {
		for j, s := range tr.Samples {
			src := m2.src[i][j]
			path := m2.files[src.file]
			s.GetPayload = func() ([]byte, error) {
				f, err := os.Open(path)
				if err != nil {
					return nil, err
				}
				defer f.Close()
				b := make([]byte, src.Size)
				_, err = f.ReadAt(b, src.Offset)
				return b, err
			}
		}
	}
	var again bytes.Buffer
	if err := p.Marshal(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), streamed) {
		t.Fatalf("pmp4 writes %d bytes, the export streamed %d (or other bytes)", again.Len(), len(streamed))
	}
	if m.frames < 85 || m.frames > 90 {
		t.Fatalf("%d frames in 3 s", m.frames)
	}
	// Range reads in the middle of samples.
	rd = m.reader()
	defer rd.Close()
	for _, off := range []int64{0, int64(len(m.header)) - 3, int64(len(m.header)) + 1, m.size / 2, m.size - 1} {
		if _, err := rd.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 7)
		n, _ := io.ReadFull(rd, buf)
		if !bytes.Equal(buf[:n], streamed[off:min(off+7, m.size)]) {
			t.Fatalf("read at %d differs", off)
		}
	}
}

// TestRetention deletes the files of recordings past delete_after and says
// so in the state; recordings within it stay.
func TestRetention(t *testing.T) {
	testenv.RequireFFmpeg(t)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	e := newEnv(t, func(c *Config) {
		c.DeleteAfter = time.Hour
		c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	e.start()
	id := e.campaign()
	e.push(id, 2)
	e.hub.End(id)
	e.waitState(id, store.RecordingReady)
	// An orphan directory (a campaign deleted while its files were busy).
	if err := os.MkdirAll(filepath.Join(e.rec.dir, "cmp_gone", "s1"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := e.rec.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.rec.dir, "cmp_gone")); !os.IsNotExist(err) {
		t.Fatal("orphan directory kept")
	}
	if _, err := os.Stat(e.rec.dirOf(id)); err != nil {
		t.Fatal("a recording within delete_after was deleted")
	}
	clock.Store(now.Add(2 * time.Hour).UnixNano())
	if err := e.rec.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.waitState(id, store.RecordingDeleted)
	if _, err := os.Stat(e.rec.dirOf(id)); !os.IsNotExist(err) {
		t.Fatal("files kept past delete_after")
	}
	if _, err := e.rec.load(t.Context(), id); err != ErrNoRecording {
		t.Fatalf("load after retention: %v", err)
	}
}
