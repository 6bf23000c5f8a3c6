package webrtc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"vitrine/internal/testenv"
	"vitrine/stream"
)

const (
	testKey    = "sk_test_key"
	testStream = "camp1"
)

// testMedia is real encoded media made once per test binary with ffmpeg:
// H.264 constrained baseline without B-frames (what browsers send), a
// keyframe every second, and Opus in 20 ms frames.
type testMedia struct {
	aus  []au     // H.264 access units
	opus [][]byte // Opus packets
}

type au struct {
	nalus [][]byte
	key   bool
}

var (
	mediaOnce sync.Once
	media_    *testMedia
	mediaErr  error
	mediaDir  string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vitrine-webrtc-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mediaDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func loadMedia(t testing.TB) *testMedia {
	t.Helper()
	testenv.RequireFFmpeg(t)
	mediaOnce.Do(func() { media_, mediaErr = makeMedia(mediaDir) })
	if mediaErr != nil {
		t.Fatalf("test media: %v", mediaErr)
	}
	return media_
}

var (
	bframesOnce sync.Once
	bframes     *testMedia
	bframesErr  error
)

// loadBFrameMedia is H.264 as OBS's x264 makes it by default: 2 B-frames,
// some of them references (b-pyramid).
func loadBFrameMedia(t testing.TB) *testMedia {
	t.Helper()
	testenv.RequireFFmpeg(t)
	bframesOnce.Do(func() {
		path := filepath.Join(mediaDir, "bframes.h264")
		out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "3",
			"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-bf", "2", "-g", "30",
			"-keyint_min", "30", "-sc_threshold", "0", "-f", "h264", path).CombinedOutput()
		if err != nil {
			bframesErr = fmt.Errorf("ffmpeg: %w: %s", err, out)
			return
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			bframesErr = err
			return
		}
		var annexb h264.AnnexB
		if err := annexb.Unmarshal(raw); err != nil {
			bframesErr = err
			return
		}
		bframes = &testMedia{aus: splitAUs(annexb)}
	})
	if bframesErr != nil {
		t.Fatal(bframesErr)
	}
	return bframes
}

func makeMedia(dir string) (*testMedia, error) {
	h264Path := filepath.Join(dir, "in.h264")
	oggPath := filepath.Join(dir, "in.ogg")
	run := func(args ...string) error {
		out, err := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ffmpeg %v: %w: %s", args, err, out)
		}
		return nil
	}
	if err := run("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "4",
		"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-bf", "0", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-f", "h264", h264Path); err != nil {
		return nil, err
	}
	if err := run("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4",
		"-c:a", "libopus", "-b:a", "64k", "-page_duration", "20000", "-f", "ogg", oggPath); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(h264Path)
	if err != nil {
		return nil, err
	}
	var annexb h264.AnnexB
	if err := annexb.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("parse H.264: %w", err)
	}
	m := &testMedia{aus: splitAUs(annexb)}
	f, err := os.Open(oggPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ogg, _, err := oggreader.NewWith(f)
	if err != nil {
		return nil, err
	}
	for {
		page, _, err := ogg.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if bytes.HasPrefix(page, []byte("OpusTags")) || len(page) == 0 {
			continue
		}
		m.opus = append(m.opus, page)
	}
	if len(m.aus) < 100 || len(m.opus) < 100 {
		return nil, fmt.Errorf("got %d access units and %d Opus packets", len(m.aus), len(m.opus))
	}
	return m, nil
}

// splitAUs groups NAL units into access units: a new one starts with a
// non-VCL NAL unit or a slice with first_mb_in_slice = 0 once the current
// one has a slice.
func splitAUs(nalus [][]byte) []au {
	var out []au
	var cur au
	hasVCL := false
	for _, n := range nalus {
		typ := h264.NALUType(n[0] & 0x1f)
		vcl := typ >= 1 && typ <= 5
		firstMB := vcl && len(n) > 1 && n[1]&0x80 != 0
		if hasVCL && (!vcl || firstMB) {
			out = append(out, cur)
			cur, hasVCL = au{}, false
		}
		cur.nalus = append(cur.nalus, n)
		if typ == h264.NALUTypeIDR {
			cur.key = true
		}
		hasVCL = hasVCL || vcl
	}
	if hasVCL {
		out = append(out, cur)
	}
	return out
}

func annexB(nalus [][]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

// testLogger logs to the test until it ends (pion may log from goroutines
// that outlive it by a moment).
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	level := slog.LevelInfo
	if os.Getenv("WEBRTC_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(b), "\n"))
	}
	return len(b), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// testServer is a started Server behind an httptest server.
type testServer struct {
	*Server
	hub  *stream.Hub
	http *httptest.Server
	base string
}

func newTestServer(t testing.TB, opts ...func(*Config)) *testServer {
	t.Helper()
	log := testLogger(t)
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 1024, ReconnectWindow: 3 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	auth := stream.AuthorizerFunc(func(_ context.Context, req stream.PublishRequest) (string, error) {
		if req.Key != testKey {
			return "", stream.ErrUnauthorized
		}
		return req.StreamID, nil
	})
	cfg := Config{
		Hub: hub, Auth: auth, ICEListen: "127.0.0.1:0", Logger: log,
		ICEServers: []ICEServer{
			{URLs: []string{"stun:stun.example.net:3478"}},
			{URLs: []string{"turn:turn.example.net:3478?transport=udp"}, Username: "user", Credential: `p"w`},
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
		hub.Close()
	})
	return &testServer{Server: s, hub: hub, http: ts, base: ts.URL}
}

func (s *testServer) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clientAPI is a pion API as a browser-like client: every default codec
// (so offers carry VP8, VP9, AV1, several H.264 profiles, RTX, Opus...) and
// the default interceptors.
func clientAPI(t testing.TB, tcpOnly bool, mux ...ice.UDPMux) *pion.API {
	t.Helper()
	m := &pion.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	if tcpOnly {
		se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	}
	if len(mux) > 0 {
		se.SetICEUDPMux(mux[0])
	}
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
}

// offerOf creates pc's offer and waits for its candidates.
func offerOf(t testing.TB, pc *pion.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("client gathering timed out")
	}
	return pc.LocalDescription().SDP
}

// post sends an SDP offer; it returns the response and its body.
func post(t testing.TB, url, key, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// publisher is an in-process WHIP client: a pion peer sending the test
// media at its real pace, like a browser. On a PLI it jumps to the next
// keyframe of the file, as an encoder would make one.
type publisher struct {
	t        testing.TB
	pc       *pion.PeerConnection
	location string
	base     string
	plis     atomic.Int64
	jump     atomic.Bool
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

func startPublisher(t testing.TB, ts *testServer, id string, m *testMedia, audio bool, mux ...ice.UDPMux) *publisher {
	t.Helper()
	pc, err := clientAPI(t, false, mux...).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{t: t, pc: pc, base: ts.base, stop: make(chan struct{})}
	t.Cleanup(p.close)
	video, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{
		MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}, "video", "publisher")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pc.AddTrack(video)
	if err != nil {
		t.Fatal(err)
	}
	var at *pion.TrackLocalStaticSample
	if audio {
		at, err = pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "publisher")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTrack(at); err != nil {
			t.Fatal(err)
		}
	}
	resp, answer := post(t, ts.base+"/whip/"+id, testKey, "application/sdp", offerOf(t, pc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP POST: %d %s", resp.StatusCode, answer)
	}
	p.location = resp.Header.Get("Location")
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	p.wg.Add(1)
	go func() { // RTCP from the server: PLIs
		defer p.wg.Done()
		for {
			pkts, _, err := vs.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
					p.plis.Add(1)
					p.jump.Store(true)
				}
			}
		}
	}()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			if p.jump.Swap(false) {
				for !m.aus[i%len(m.aus)].key {
					i++
				}
			}
			a := m.aus[i%len(m.aus)]
			_ = video.WriteSample(media.Sample{Data: annexB(a.nalus), Duration: time.Second / 30})
		}
	}()
	if audio {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-p.stop:
					return
				case <-tick.C:
				}
				_ = at.WriteSample(media.Sample{Data: m.opus[i%len(m.opus)], Duration: 20 * time.Millisecond})
			}
		}()
	}
	return p
}

// remove sends DELETE to the session URL.
func (p *publisher) remove() int {
	req, _ := http.NewRequest(http.MethodDelete, p.base+p.location, nil)
	resp, _ := do(p.t, req)
	return resp.StatusCode
}

func (p *publisher) close() {
	p.once.Do(func() {
		close(p.stop)
		_ = p.pc.Close()
		p.wg.Wait()
	})
}

// viewerClient is an in-process WHEP client. Video is reassembled with
// pion's own sample builder (not ours) into Annex-B access units.
type viewerClient struct {
	t        testing.TB
	pc       *pion.PeerConnection
	location string
	answer   string
	started  time.Time

	ssrc    atomic.Uint32 // of the video track received
	lastSeq atomic.Uint32 // the last video packet's sequence number

	mu         sync.Mutex
	frames     [][]byte
	firstAt    time.Time
	firstIsKey bool
	audio      atomic.Int64
	video      atomic.Int64
	once       sync.Once
}

type viewerOpts struct {
	tcpOnly bool
	noAudio bool
	mux     ice.UDPMux // the client's own UDP socket (to cut it)
}

func startViewer(t testing.TB, ts *testServer, id string, o viewerOpts) *viewerClient {
	t.Helper()
	var muxes []ice.UDPMux
	if o.mux != nil {
		muxes = append(muxes, o.mux)
	}
	pc, err := clientAPI(t, o.tcpOnly, muxes...).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &viewerClient{t: t, pc: pc}
	t.Cleanup(v.close)
	if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	if !o.noAudio {
		if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeAudio, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		if tr.Kind() == pion.RTPCodecTypeAudio {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				v.audio.Add(1)
			}
		}
		v.ssrc.Store(uint32(tr.SSRC()))
		sb := samplebuilder.New(256, &codecs.H264Packet{}, 90000)
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			v.video.Add(1)
			v.lastSeq.Store(uint32(pkt.SequenceNumber))
			sb.Push(pkt)
			for s := sb.Pop(); s != nil; s = sb.Pop() {
				v.addFrame(s.Data)
			}
		}
	})
	offer := offerOf(t, pc)
	v.started = time.Now()
	resp, answer := post(t, ts.base+"/live/"+id+"/whep", "", "application/sdp", offer)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP POST: %d %s", resp.StatusCode, answer)
	}
	v.location, v.answer = resp.Header.Get("Location"), answer
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *viewerClient) addFrame(b []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.frames) == 0 {
		v.firstAt = time.Now()
		v.firstIsKey = hasNALU(b, h264.NALUTypeIDR) && hasNALU(b, h264.NALUTypeSPS)
	}
	v.frames = append(v.frames, bytes.Clone(b))
}

func (v *viewerClient) frameCount() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.frames)
}

// timeToFirstFrame is from the POST to the first complete picture.
func (v *viewerClient) timeToFirstFrame() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.firstAt.Sub(v.started)
}

func (v *viewerClient) close() {
	v.once.Do(func() { _ = v.pc.Close() })
}

func hasNALU(annexb []byte, typ h264.NALUType) bool {
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(annexb); err != nil {
		return false
	}
	for _, n := range nalus {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == typ {
			return true
		}
	}
	return false
}

// decodeFrames writes the received access units to a file and has ffmpeg
// decode them all; it returns the number of frames decoded and ffmpeg's
// error output.
func (v *viewerClient) decodeFrames(t testing.TB) (int, string) {
	t.Helper()
	v.mu.Lock()
	data := bytes.Join(v.frames, nil)
	v.mu.Unlock()
	path := filepath.Join(t.TempDir(), "out.h264")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(lines[len(lines)-1]))
	if err != nil {
		t.Fatalf("ffprobe output %q", out)
	}
	errs, _ := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	return n, strings.TrimSpace(string(errs))
}
