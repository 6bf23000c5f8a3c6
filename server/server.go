// Package server wires Vitrine's components together and owns their
// lifecycle: start in dependency order, stop in reverse, flushing what is
// being written.
//
// It imports every package below it; nothing imports it but main.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vitrine/analytics"
	"vitrine/api"
	"vitrine/configs"
	"vitrine/internal/cors"
	"vitrine/internal/httperr"
	"vitrine/notify"
	"vitrine/overlay"
	"vitrine/overlay/transport"
	"vitrine/protocols/hls"
	"vitrine/protocols/rtmp"
	"vitrine/protocols/rtsp"
	"vitrine/protocols/webrtc"
	"vitrine/recorder"
	"vitrine/store"
	"vitrine/stream"
	"vitrine/web"
)

// shutdownTimeout bounds how long in-flight HTTP requests may take to finish.
const shutdownTimeout = 5 * time.Second

// Server is a running Vitrine.
type Server struct {
	cfg *configs.Config
	log *slog.Logger

	hub      *stream.Hub
	keys     *staticKeys
	viewable *viewable // the one rule of what viewers may watch
	store    store.Store
	notifier *notify.Notifier
	bus      *overlay.RedisBus // nil: in-process
	overlay  *overlay.Rooms
	events   *transport.Handler      // the events WebSocket
	channels *transport.DataChannels // the events on WHEP data channels
	api      *api.API
	rtmp     *rtmp.Server
	rtsp     *rtsp.Server
	webrtc   *webrtc.Server
	hls      *hls.Server
	recorder *recorder.Recorder // nil: recordings disabled
	viewers  *analytics.SessionRecorder
	web      *web.Handler
	// viewerCORS lets a seller's page read the viewer gate's refusals
	// (http.allow_origins), as it reads the routes' own answers.
	viewerCORS cors.CORS

	// background owns the goroutines of components with a Run loop.
	background     sync.WaitGroup
	stopBackground context.CancelFunc

	httpLn  net.Listener
	httpSrv *http.Server
	httpErr chan error
	https   *httpsSetup // nil: plain HTTP (tls.go)

	closeOnce sync.Once
}

// New validates cfg and prepares every component without opening ports.
func New(cfg *configs.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s := &Server{cfg: cfg, log: log.With("component", "server"), httpErr: make(chan error, 1)}
	for _, name := range cfg.IgnoredEnv {
		s.log.Warn("environment variable ignored: it names no configuration section", "variable", name)
	}

	ok := false
	defer func() {
		if ok {
			return
		}
		if s.events != nil {
			s.events.Close()
		}
		if s.overlay != nil {
			_ = s.overlay.Close()
		}
		if s.bus != nil {
			_ = s.bus.Close()
		}
		if s.store != nil {
			_ = s.store.Close()
		}
	}()
	var err error
	s.keys, err = loadKeys(cfg.Streams, cfg.Data.Dir, s.log)
	if err != nil {
		return nil, err
	}
	if s.https, err = newHTTPS(cfg, s.log); err != nil { // HTTPS: certificate files read now (tls.go)
		return nil, err
	}
	token := cfg.Admin.Token
	if token == "" {
		token, err = secretFile(filepath.Join(cfg.Data.Dir, "admin.token"), "vt_", "admin token", s.log)
		if err != nil {
			return nil, err
		}
	}
	var where string
	s.store, where, err = openStore(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	declared := make([]string, 0, len(cfg.Streams))
	for _, st := range cfg.Streams {
		declared = append(declared, st.ID)
	}
	s.viewable = newViewable(s.store, declared)
	s.log.Info("store open", "store", where)
	s.notifier, err = notify.New(notify.Config{
		Store: s.store, Logger: log, AllowPrivate: cfg.Webhooks.AllowPrivate, PublicURL: cfg.HTTP.PublicURL,
	})
	if err != nil {
		return nil, err
	}
	var bus overlay.Bus // nil: in-process
	if cfg.Cluster.RedisURL != "" {
		s.bus, err = overlay.NewRedisBus(context.Background(), cfg.Cluster.RedisURL, log)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		bus = s.bus
	}
	// s.viewers is made below, before any viewer can connect.
	s.overlay, err = overlay.NewRooms(overlay.Config{Log: s.store, Bus: bus, Logger: log,
		OnLike: func(campaignID, viewerID string) { s.viewers.Like(campaignID, viewerID) }})
	if err != nil {
		return nil, err
	}
	// Viewer tokens are signed with a key derived from the admin token,
	// which every node of a cluster shares: a token holds on any node.
	identity, err := overlay.NewIdentity([]byte(token))
	if err != nil {
		return nil, err
	}
	perAddress := cfg.HTTP.EventsPerAddress
	if perAddress == 0 {
		perAddress = -1 // no bound
	}
	eventsCfg := transport.Config{Rooms: s.overlay, Campaigns: s.store, Identity: identity, Logger: log,
		TrustProxy: cfg.HTTP.TrustProxy, MaxPerAddress: perAddress}
	if s.events, err = transport.NewHandler(eventsCfg); err != nil {
		return nil, err
	}
	if s.channels, err = transport.NewDataChannels(eventsCfg); err != nil {
		return nil, err
	}
	s.viewers = analytics.NewSessionRecorder(s.store, log)
	s.hub, err = stream.NewHub(stream.Config{
		ReaderQueue:     cfg.Stream.ReaderQueue,
		ReconnectWindow: cfg.Stream.ReconnectWindow.Std(),
		Logger:          log,
	})
	if err != nil {
		return nil, err
	}
	if cfg.RTMP.Enabled {
		s.rtmp, err = rtmp.New(rtmp.Config{Listen: cfg.RTMP.Listen, Hub: s.hub, Auth: s.publishAuth(), Logger: log})
		if err != nil {
			return nil, err
		}
	}
	if cfg.RTSP.Enabled {
		s.rtsp, err = rtsp.New(rtsp.Config{
			Listen: cfg.RTSP.Listen, UDPRTPAddr: cfg.RTSP.UDPRTP, UDPRTCPAddr: cfg.RTSP.UDPRTCP,
			Hub: s.hub, Auth: s.publishAuth(), ReadAuth: s.viewable, Logger: log,
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.WebRTC.Enabled {
		var ice []webrtc.ICEServer
		for _, u := range cfg.WebRTC.ICEServers {
			p, err := configs.ParseICEServer(u) // validated with the config
			if err != nil {
				return nil, err
			}
			ice = append(ice, webrtc.ICEServer{URLs: []string{p.URL}, Username: p.Username, Credential: p.Credential})
		}
		s.webrtc, err = webrtc.New(webrtc.Config{
			Hub: s.hub, Auth: s.publishAuth(), ICEListen: cfg.WebRTC.ICEListen, PublicIPs: cfg.WebRTC.PublicIPs,
			ICEServers: ice, AllowOrigins: cfg.HTTP.AllowOrigins, Logger: log,
			AACToOpus: webrtc.AACToOpus{Disabled: !cfg.WebRTC.AACToOpus, FFmpeg: cfg.WebRTC.FFmpeg, Bitrate: cfg.WebRTC.OpusBitrate},
			// The shopping data channel also rides on WHEP sessions.
			OnDataChannel: func(ctx context.Context, id string, ch webrtc.DataChannel) {
				s.channels.Serve(ctx, id, ch)
			},
			// Analytics count WHEP viewers and their watching time.
			OnViewer: func(v webrtc.ViewerInfo) func() {
				return s.viewers.WHEPStart(v.StreamID, v.SessionID, v.Viewer, hostOf(v.RemoteAddr), v.UserAgent)
			},
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.Recordings.Enabled {
		dir := cfg.Recordings.Dir
		if dir == "" {
			dir = filepath.Join(cfg.Data.Dir, "recordings")
		}
		s.recorder, err = recorder.New(recorder.Config{
			Hub: s.hub, Store: s.store, Dir: dir,
			FragmentDuration: cfg.Recordings.FragmentDuration.Std(), SegmentDuration: cfg.Recordings.SegmentDuration.Std(),
			DeleteAfter: cfg.Recordings.DeleteAfter.Std(), AllowOrigins: cfg.HTTP.AllowOrigins, Logger: log,
		})
		if err != nil {
			return nil, err
		}
	}
	var recs api.Recordings
	if s.recorder != nil {
		recs = recordings{s.recorder}
	}
	rtmpPort, rtspPort := 0, 0
	if cfg.RTMP.Enabled {
		rtmpPort = portNumber(cfg.RTMP.Listen)
	}
	if cfg.RTSP.Enabled {
		rtspPort = portNumber(cfg.RTSP.Listen)
	}
	s.api, err = api.New(api.Config{
		Store: s.store, Hub: s.hub, Notifier: s.notifier, AdminToken: token, DataDir: cfg.Data.Dir,
		PublicURL: cfg.HTTP.PublicURL, TrustProxy: cfg.HTTP.TrustProxy, RTMPPort: rtmpPort, RTSPPort: rtspPort, Logger: log,
		WebRTCInfo: s.webrtcInfo, Overlay: s.overlay, Identity: identity, HostEvents: s.events.ServeHost, Recordings: recs,
		WebhookURL: func(raw string) error { return notify.ValidateURL(raw, cfg.Webhooks.AllowPrivate) },
		SessionTTL: cfg.Admin.SessionTTL.Std(), AllowOrigins: cfg.HTTP.AllowOrigins,
	})
	if err != nil {
		return nil, err
	}
	s.hls, err = hls.New(hls.Config{
		Hub:                s.hub,
		SegmentCount:       cfg.HLS.SegmentCount,
		SegmentMinDuration: cfg.HLS.SegmentMinDuration.Std(),
		PartMinDuration:    cfg.HLS.PartMinDuration.Std(),
		EndLinger:          cfg.HLS.EndLinger.Std(),
		AllowOrigins:       cfg.HTTP.AllowOrigins,
		Logger:             log,
	})
	if err != nil {
		return nil, err
	}

	origins := cfg.HTTP.AllowOrigins
	if origins == nil {
		origins = []string{"*"}
	}
	s.viewerCORS, err = cors.New(origins, cors.Policy{ExposeHeaders: "X-Request-Id"})
	if err != nil {
		return nil, fmt.Errorf("http.allow_origins: %w", err)
	}
	s.web, err = web.New(web.Config{Lookup: s.watchLookup, Logger: log})
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newHubCollector(s.hub),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vitrine_hls_muxers", Help: "LL-HLS muxers running (one per live stream).",
		}, func() float64 { return float64(s.hls.Muxers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vitrine_events_sockets_parked", Help: "Viewers' events WebSockets held without a goroutine (caught up, idle).",
		}, func() float64 { return float64(s.events.Parked()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vitrine_events_sockets_open", Help: "Events WebSockets open (viewers' and hosts'), parked or not.",
		}, func() float64 { return float64(s.events.Open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vitrine_events_broadcasts_total", Help: "Data-channel events written to the parked WebSockets of their room.",
		}, func() float64 { n, _, _ := s.events.BroadcastStats(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vitrine_events_broadcast_seconds_total", Help: "Time the fans spent in passes writing events to the parked WebSockets of their room (a pass writes every event a socket lacks).",
		}, func() float64 { _, sec, _ := s.events.BroadcastStats(); return sec }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vitrine_events_frames_written_total", Help: "Event frames written to parked WebSockets (an event to N sockets is N frames).",
		}, func() float64 { _, _, n := s.events.BroadcastStats(); return float64(n) }))
	if s.recorder != nil {
		reg.MustRegister(s.recorder.Collector())
	}
	if s.webrtc != nil {
		w := s.webrtc
		egress := func(name, help string, f func(webrtc.EgressStats) uint64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitrine_whep_packets_" + name, Help: help},
				func() float64 { return float64(f(w.Egress())) })
		}
		reg.MustRegister(
			egress("sent_total", "Media packets written to WHEP viewers, retransmissions included.",
				func(e webrtc.EgressStats) uint64 { return e.Sent }),
			egress("resent_total", "Packets sent again to WHEP viewers that NACKed them.",
				func(e webrtc.EgressStats) uint64 { return e.Resent }),
			egress("resend_refused_total", "NACKed packets not sent again: resent under 100 ms before, or over the viewer's retransmission share.",
				func(e webrtc.EgressStats) uint64 { return e.Refused }),
			egress("dropped_total", "Packets lost by WHEP viewers that fell behind (their queue overflowed; they resume at a keyframe).",
				func(e webrtc.EgressStats) uint64 { return e.Dropped }),
			egress("direct_total", "Of the packets sent, those encrypted and written to the UDP socket by Vitrine itself; the others (ICE-TCP viewers) go through pion.",
				func(e webrtc.EgressStats) uint64 { return e.Direct }))
	}
	s.httpSrv = &http.Server{
		// guardBodies: a body's read deadline, and no connection held by
		// a body its handler did not read (slowbody.go).
		Handler:           guardBodies(newHTTPMetrics(reg).wrap(refuseControl(s.routes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))))),
		ReadHeaderTimeout: 10 * time.Second,
		// A keep-alive connection idle this long is closed (without it
		// and without a ReadTimeout, an idle one stays forever).
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	if s.https != nil {
		s.httpSrv.TLSConfig = s.https.config
	}
	ok = true
	return s, nil
}

// refuseControl answers a request whose path or query holds a control
// character (NUL, a newline...) with 404 or 400 before any handler: no id,
// search or name of ours has one, and PostgreSQL refuses a NUL in text,
// which would make a lookup of such an id a server error.
func refuseControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasControl(r.URL.Path) {
			httperr.Write(w, http.StatusNotFound, "not_found", "no such resource: the path holds a control character")
			return
		}
		for k, vs := range r.URL.Query() {
			if hasControl(k) || slices.ContainsFunc(vs, hasControl) {
				httperr.Write(w, http.StatusBadRequest, "invalid_query", "the query holds a control character")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// webrtcInfo describes a stream's WHEP playback for the API's campaign view.
func (s *Server) webrtcInfo(id string) *api.WebRTCView {
	if s.webrtc == nil {
		return nil
	}
	i := s.webrtc.StreamInfo(id)
	return &api.WebRTCView{Video: i.WHEPVideo, Audio: i.WHEPAudio, Viewers: i.WHEPViewers, Notes: i.Notes}
}

// publishAuth accepts the key of a live campaign, or of a stream declared
// in the configuration.
func (s *Server) publishAuth() stream.Authorizer {
	return anyOf{campaignKeys{store: s.store, now: time.Now}, s.keys}
}

func portNumber(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *Server) routes(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	s.api.Register(mux)
	// More specific than the LL-HLS "/live/" prefix.
	mux.Handle("GET /live/{id}/events", s.events)
	if s.webrtc != nil {
		s.webrtc.Register(mux)
	}
	mux.Handle("/live/", s.trackHLS(s.hls))
	if s.recorder != nil {
		// The replay's routes on their own mux, behind the analytics of
		// its viewers (each request still names its route for /metrics).
		replay := http.NewServeMux()
		s.recorder.Register(replay)
		mux.Handle("/replay/", s.trackReplay(replay))
	}
	s.web.Register(mux) // the player page, embed.js, /static/
	mux.Handle("GET /metrics", metrics)
	// Go's profiler, for the operator with the admin token: CPU and
	// allocation profiles of a loaded server (README, Performance).
	mux.Handle("GET /debug/pprof/", s.api.AdminOnly(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", s.api.AdminOnly(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", s.api.AdminOnly(http.HandlerFunc(pprof.Trace)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		msg := "no such resource: " + r.URL.Path
		if r.URL.Path == "/" {
			// Where a first visit lands: say where things are.
			msg = "this is a Vitrine server: the player page is /watch/{campaign_id}, the admin API " +
				"/api/v1 (reference: /api/v1/openapi.json), health /healthz, metrics /metrics"
		}
		httperr.Write(w, http.StatusNotFound, "not_found", msg)
	})
	return s.viewerGate(s.api.GuardPaths(mux))
}

// Start opens every port. On error, what was started is closed again.
func (s *Server) Start() (err error) {
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.overlay.Start()
	if err := s.events.Start(); err != nil {
		return fmt.Errorf("events sockets: %w", err)
	}
	if err := s.hls.Start(); err != nil {
		return fmt.Errorf("hls: %w", err)
	}
	if s.recorder != nil {
		// Before the ingest ports open: a publisher's first frames are
		// recorded, and a crash's leftovers are repaired first.
		if err := s.recorder.Start(context.Background()); err != nil {
			return fmt.Errorf("recorder: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopBackground = cancel
	s.background.Go(func() {
		if err := s.notifier.Run(ctx); err != nil {
			s.log.Error("notifications stopped", "error", err)
		}
	})
	s.background.Go(func() { s.viewers.Run(ctx) })
	s.background.Go(func() { s.api.RunImageSweep(ctx) })
	s.httpLn, err = net.Listen("tcp", s.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	if err := s.https.start(s.httpLn.Addr()); err != nil {
		_ = s.httpLn.Close() // not served yet: Shutdown would not close it
		return fmt.Errorf("http: %w", err)
	}
	go func() {
		if err := s.serveHTTP(); !errors.Is(err, http.ErrServerClosed) {
			s.httpErr <- fmt.Errorf("http: %w", err)
		}
		close(s.httpErr)
	}()
	if s.rtmp != nil {
		if err := s.rtmp.Start(); err != nil {
			return fmt.Errorf("rtmp: %w", err)
		}
	}
	if s.rtsp != nil {
		if err := s.rtsp.Start(); err != nil {
			return fmt.Errorf("rtsp: %w", err)
		}
	}
	if s.webrtc != nil {
		if err := s.webrtc.Start(); err != nil {
			return fmt.Errorf("webrtc: %w", err)
		}
	}
	// The bound ports, which differ from the configured ones with ":0".
	s.api.SetIngestPorts(portNumber(addrString(s.RTMPAddr())), portNumber(addrString(s.RTSPAddr())))
	s.logReady()
	return nil
}

func (s *Server) logReady() {
	attrs := []any{"http", s.HTTPAddr().String(), "scheme", s.scheme(), "data", s.cfg.Data.Dir}
	base := reachableBase(s.cfg.HTTP.PublicURL, s.scheme(), s.HTTPAddr(), net.InterfaceAddrs)
	u, _ := url.Parse(base)
	publish := "rtmp disabled"
	if s.rtmp != nil {
		attrs = append(attrs, "rtmp", s.rtmp.Addr().String())
		publish = "rtmp://" + net.JoinHostPort(u.Hostname(), strings.TrimPrefix(portOf(s.rtmp.Addr().String()), ":")) + "/live/{key}"
	}
	if s.rtsp != nil {
		attrs = append(attrs, "rtsp", s.rtsp.Addr().String())
	}
	if s.webrtc != nil {
		attrs = append(attrs, "webrtc_ice", s.webrtc.ICEAddr().String())
	}
	attrs = append(attrs, "console", base+"/console")
	s.log.Info("vitrine ready", attrs...)
	for _, st := range s.cfg.Streams {
		s.log.Info("stream declared", "stream", st.ID, "publish", publish,
			"play", base+"/live/"+url.PathEscape(st.ID)+"/index.m3u8")
	}
}

// reachableBase is how a viewer reaches this server, for the startup log:
// http.public_url when set, else the listener's own address when it names
// one, else (listening on every interface) the first non-loopback address
// of the machine, else localhost.
func reachableBase(publicURL, scheme string, ln net.Addr, ifaceAddrs func() ([]net.Addr, error)) string {
	if publicURL != "" {
		return strings.TrimRight(publicURL, "/")
	}
	host, port, _ := net.SplitHostPort(ln.String())
	ip := net.ParseIP(host)
	switch {
	case ip == nil && host != "":
		// A name: as configured.
	case ip != nil && ip.IsLoopback():
		host = "localhost"
	case ip != nil && !ip.IsUnspecified():
		host = ip.String()
	default:
		host = "localhost"
		var v6 string
		addrs, _ := ifaceAddrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.IsUnspecified() {
				continue
			}
			if n.IP.To4() != nil {
				host, v6 = n.IP.String(), ""
				break
			}
			if v6 == "" {
				v6 = n.IP.String()
			}
		}
		if v6 != "" && host == "localhost" {
			host = v6
		}
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return ":" + port
}

// HTTPAddr is the HTTP listener's address once started.
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// RTMPAddr is the RTMP listener's address once started, nil when disabled.
func (s *Server) RTMPAddr() net.Addr {
	if s.rtmp == nil {
		return nil
	}
	return s.rtmp.Addr()
}

// RTSPAddr is the RTSP listener's address once started, nil when disabled.
func (s *Server) RTSPAddr() net.Addr {
	if s.rtsp == nil {
		return nil
	}
	return s.rtsp.Addr()
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Hub exposes the stream hub (for tests and future components).
func (s *Server) Hub() *stream.Hub { return s.hub }

// Run starts the server and blocks until ctx is done or a listener fails,
// then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	var err error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case err = <-s.httpErr:
	}
	s.Close()
	return err
}

// Close stops in reverse order: publishers are disconnected and streams
// ended (readers flush what they hold), then protocol servers stop, then
// in-flight HTTP requests get a bounded time to finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		// WebRTC first: its sessions hold the hub's streams and readers,
		// and closing them is what lets the hub end cleanly.
		if s.webrtc != nil {
			s.webrtc.Close()
		}
		s.hub.Close()
		if s.rtmp != nil {
			if err := s.rtmp.Close(); err != nil {
				s.log.Warn("rtmp close", "error", err)
			}
		}
		if s.rtsp != nil {
			s.rtsp.Close()
		}
		s.hls.Close()
		// Streams are closed: the recorder writes the last fragments.
		if s.recorder != nil {
			s.recorder.Close()
		}
		// WebSockets are hijacked: http.Server.Shutdown does not end them.
		// The overlay ends them with "reconnect with since".
		s.events.Close()
		if err := s.overlay.Close(); err != nil {
			s.log.Warn("overlay close", "error", err)
		}
		if s.httpLn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := s.httpSrv.Shutdown(ctx); err != nil {
				s.log.Warn("http shutdown", "error", err)
			}
			s.https.close(ctx)
		}
		if s.stopBackground != nil {
			s.stopBackground()
		}
		s.background.Wait()
		if s.bus != nil {
			if err := s.bus.Close(); err != nil {
				s.log.Warn("redis bus close", "error", err)
			}
		}
		if err := s.store.Close(); err != nil {
			s.log.Warn("store close", "error", err)
		}
		s.log.Info("stopped")
	})
}
