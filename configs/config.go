// Package configs holds Vitrine's configuration: typed sections, embedded
// defaults, a YAML file, VITRINE_* environment overrides and validation.
//
// It imports no package of the project.
package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed default.yml
var defaultYAML []byte

// Config is the whole configuration.
type Config struct {
	Log      Log      `yaml:"log"`
	Data     Data     `yaml:"data"`
	HTTP     HTTP     `yaml:"http"`
	RTMP     RTMP     `yaml:"rtmp"`
	RTSP     RTSP     `yaml:"rtsp"`
	WebRTC   WebRTC   `yaml:"webrtc"`
	HLS      HLS      `yaml:"hls"`
	Stream   Stream   `yaml:"stream"`
	Store    Store    `yaml:"store"`
	Admin    Admin    `yaml:"admin"`
	Webhooks Webhooks `yaml:"webhooks"`
	Cluster  Cluster  `yaml:"cluster"`
	// Recordings configures the recorder of every live (recorder/).
	Recordings Recordings  `yaml:"recordings"`
	Streams    []StreamKey `yaml:"streams"`

	// IgnoredEnv lists VITRINE_ variables that name no section: not
	// settings, but worth a warning in case of a typo.
	IgnoredEnv []string `yaml:"-"`
}

// Store selects the database: empty URL means SQLite in the data directory.
type Store struct {
	URL string `yaml:"url"`
}

// Admin holds the admin API's bearer token; empty means generated at first
// start and kept in the data directory.
type Admin struct {
	Token string `yaml:"token"`
	// SessionTTL is how long a console session lasts without use (it
	// slides: a request in its second half renews it).
	SessionTTL Duration `yaml:"session_ttl"`
}

// Cluster joins several Vitrine nodes: the shopping data channel's events
// travel between them through Redis (and the store must be PostgreSQL).
type Cluster struct {
	RedisURL string `yaml:"redis_url"`
}

// Webhooks tunes notification delivery.
type Webhooks struct {
	// AllowPrivate lets webhooks reach loopback and private addresses
	// (a receiver on the same host or LAN); off by default against SSRF.
	AllowPrivate bool `yaml:"allow_private"`
}

type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type Data struct {
	Dir string `yaml:"dir"`
}

type HTTP struct {
	Listen       string   `yaml:"listen"`
	PublicURL    string   `yaml:"public_url"`
	AllowOrigins []string `yaml:"allow_origins"`
	// TrustProxy takes the client address and public host from
	// X-Forwarded-For/-Proto/-Host: set it only behind a proxy that
	// overwrites them.
	TrustProxy bool `yaml:"trust_proxy"`
	// EventsPerAddress bounds one client address's events sockets (the
	// data channel's WebSockets); loopback is exempt. 0: no bound.
	EventsPerAddress int `yaml:"events_per_address"`

	// HTTPS (see tls.go): either a certificate and its key, PEM files
	// (re-read when they change on disk)...
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ...or automatic certificates from an ACME CA (Let's Encrypt by
	// default) for these host names. Setting them accepts the CA's terms
	// of service.
	ACMEHosts []string `yaml:"acme_hosts"`
	// ACMEEmail is given to the CA for expiry and problem notices
	// (optional).
	ACMEEmail string `yaml:"acme_email"`
	// ACMEHTTPListen answers the CA's HTTP-01 challenges (and redirects
	// other plain-HTTP requests to HTTPS); the CA calls port 80. Empty:
	// no such listener, then listen must be on port 443 (TLS-ALPN-01).
	ACMEHTTPListen string `yaml:"acme_http_listen"`
	// ACMECacheDir keeps the account key and certificates; empty:
	// {data.dir}/acme.
	ACMECacheDir string `yaml:"acme_cache_dir"`
	// ACMEDirectoryURL is the CA's directory; empty: Let's Encrypt's
	// production one.
	ACMEDirectoryURL string `yaml:"acme_directory_url"`
}

// TLS says whether the HTTP listener serves HTTPS.
func (h HTTP) TLS() bool { return h.TLSCert != "" || len(h.ACMEHosts) > 0 }

type RTMP struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"`
}

type RTSP struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"`
	// UDP ports for RTP and RTCP; empty disables the UDP transport (TCP
	// interleaved only).
	UDPRTP  string `yaml:"udp_rtp"`
	UDPRTCP string `yaml:"udp_rtcp"`
}

type WebRTC struct {
	Enabled bool `yaml:"enabled"`
	// ICEListen is the one port of every WebRTC session, UDP and TCP.
	ICEListen string `yaml:"ice_listen"`
	// PublicIPs are advertised as host candidates (NAT 1:1), e.g. the
	// public address of a cloud VM.
	PublicIPs []string `yaml:"public_ips"`
	// ICEServers are STUN/TURN URLs given to clients:
	// "stun:host:port" or "turn:user:password@host:port?transport=udp".
	ICEServers []string `yaml:"ice_servers"`
	// AACToOpus transcodes the AAC audio of RTMP and RTSP sources to Opus
	// for WebRTC viewers (with FFmpeg, once per stream); without it they
	// get the picture only.
	AACToOpus bool `yaml:"aac_to_opus"`
	// FFmpeg is the ffmpeg executable the transcoder runs.
	FFmpeg string `yaml:"ffmpeg"`
	// OpusBitrate is the transcoded audio's bitrate, in bits per second.
	OpusBitrate int `yaml:"opus_bitrate"`
}

type HLS struct {
	SegmentCount       int      `yaml:"segment_count"`
	SegmentMinDuration Duration `yaml:"segment_min_duration"`
	PartMinDuration    Duration `yaml:"part_min_duration"`
	EndLinger          Duration `yaml:"end_linger"`
}

// Recordings configures the recorder: where lives are kept, how they are
// cut, and for how long.
type Recordings struct {
	// Enabled records every live of a campaign.
	Enabled bool `yaml:"enabled"`
	// Dir holds the recordings; empty: {data.dir}/recordings.
	Dir string `yaml:"dir"`
	// FragmentDuration is how much media is written (and synced) at once:
	// at most this much is lost in a crash.
	FragmentDuration Duration `yaml:"fragment_duration"`
	// SegmentDuration: a segment file ends at the first keyframe after it.
	SegmentDuration Duration `yaml:"segment_duration"`
	// DeleteAfter removes a recording's files this long after its live
	// ended; 0 keeps them for ever.
	DeleteAfter Duration `yaml:"delete_after"`
}

type Stream struct {
	ReaderQueue     int      `yaml:"reader_queue"`
	ReconnectWindow Duration `yaml:"reconnect_window"`
}

// StreamKey declares a stream that may be published and its secret key.
type StreamKey struct {
	ID  string `yaml:"id"`
	Key string `yaml:"key"`
}

// Duration is a time.Duration written as "200ms", "1s", "5m" in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use e.g. 200ms, 1s, 5m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Load returns the embedded defaults, overlaid with file (when not empty),
// then with the VITRINE_* variables of environ, validated.
func Load(file string, environ []string) (*Config, error) {
	var c Config
	if err := decode(defaultYAML, &c); err != nil {
		return nil, fmt.Errorf("embedded defaults: %w", err)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		if err := decode(b, &c); err != nil {
			return nil, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decode overlays YAML on c; unknown keys are errors, so a typo is not
// silently ignored.
func decode(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: it changes nothing.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ICEServer is a STUN or TURN server as WebRTC clients expect it.
type ICEServer struct {
	URL        string // without credentials
	Username   string
	Credential string
}

// ParseICEServer reads "stun:host:port" or
// "turn:user:password@host:port?transport=tcp" (percent-encode ':' and '@'
// inside credentials).
func ParseICEServer(s string) (ICEServer, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	switch {
	case !ok:
	case scheme == "stun" || scheme == "stuns":
		if rest != "" && !strings.Contains(rest, "@") {
			return ICEServer{URL: s}, nil
		}
	case scheme == "turn" || scheme == "turns":
		cred, host, found := strings.Cut(rest, "@")
		if !found || host == "" {
			return ICEServer{}, fmt.Errorf("%q: a TURN server needs user:password@host", s)
		}
		user, pass, _ := strings.Cut(cred, ":")
		u, err1 := url.PathUnescape(user)
		p, err2 := url.PathUnescape(pass)
		if err1 != nil || err2 != nil || u == "" || p == "" {
			return ICEServer{}, fmt.Errorf("%q: bad TURN credentials", s)
		}
		return ICEServer{URL: scheme + ":" + host, Username: u, Credential: p}, nil
	}
	return ICEServer{}, fmt.Errorf("%q is not a stun: or turn: URL", s)
}

var streamIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Validate checks every value and reports all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	if c.Data.Dir == "" {
		bad("data.dir", "must not be empty")
	}
	checkListen := func(key, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "%q is not host:port (e.g. \":8080\")", addr)
		}
	}
	checkListen("http.listen", c.HTTP.Listen)
	if c.RTMP.Enabled {
		checkListen("rtmp.listen", c.RTMP.Listen)
	}
	if c.HTTP.PublicURL != "" {
		u, err := url.Parse(c.HTTP.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("http.public_url", "%q is not an http(s) URL", c.HTTP.PublicURL)
		}
	}
	if c.RTSP.Enabled {
		checkListen("rtsp.listen", c.RTSP.Listen)
		if (c.RTSP.UDPRTP == "") != (c.RTSP.UDPRTCP == "") {
			bad("rtsp.udp_rtp", "udp_rtp and udp_rtcp are set together (or both empty for TCP only)")
		} else if c.RTSP.UDPRTP != "" {
			checkListen("rtsp.udp_rtp", c.RTSP.UDPRTP)
			checkListen("rtsp.udp_rtcp", c.RTSP.UDPRTCP)
		}
	}
	if c.WebRTC.Enabled {
		checkListen("webrtc.ice_listen", c.WebRTC.ICEListen)
		if c.WebRTC.OpusBitrate != 0 && (c.WebRTC.OpusBitrate < 6000 || c.WebRTC.OpusBitrate > 510000) {
			bad("webrtc.opus_bitrate", "%d is outside Opus's 6000 to 510000 bits per second", c.WebRTC.OpusBitrate)
		}
		for i, ip := range c.WebRTC.PublicIPs {
			if net.ParseIP(ip) == nil {
				bad(fmt.Sprintf("webrtc.public_ips[%d]", i), "%q is not an IP address", ip)
			}
		}
		for i, u := range c.WebRTC.ICEServers {
			if _, err := ParseICEServer(u); err != nil {
				bad(fmt.Sprintf("webrtc.ice_servers[%d]", i), "%v", err)
			}
		}
	}
	c.validateTLS(bad, checkListen)
	if c.HTTP.EventsPerAddress < 0 {
		bad("http.events_per_address", "must be 0 (no bound) or more, got %d", c.HTTP.EventsPerAddress)
	}
	if c.HLS.SegmentCount < 7 {
		bad("hls.segment_count", "must be at least 7 (LL-HLS needs them), got %d", c.HLS.SegmentCount)
	}
	if c.HLS.PartMinDuration.Std() < 50*time.Millisecond {
		bad("hls.part_min_duration", "must be at least 50ms, got %s", c.HLS.PartMinDuration.Std())
	}
	if c.HLS.SegmentMinDuration.Std() < c.HLS.PartMinDuration.Std() {
		bad("hls.segment_min_duration", "must not be shorter than hls.part_min_duration")
	}
	if c.HLS.EndLinger < 0 {
		bad("hls.end_linger", "must not be negative")
	}
	if d := c.Recordings.FragmentDuration.Std(); d < 100*time.Millisecond || d > 10*time.Second {
		bad("recordings.fragment_duration", "must be between 100ms and 10s, got %s", d)
	}
	if d := c.Recordings.SegmentDuration.Std(); d < c.Recordings.FragmentDuration.Std() || d > time.Minute {
		bad("recordings.segment_duration", "must be between recordings.fragment_duration and 1m, got %s", d)
	}
	if c.Recordings.DeleteAfter < 0 {
		bad("recordings.delete_after", "must not be negative (0 keeps recordings for ever)")
	}
	if c.Stream.ReaderQueue < 16 {
		bad("stream.reader_queue", "must be at least 16, got %d", c.Stream.ReaderQueue)
	}
	if c.Stream.ReconnectWindow < 0 {
		bad("stream.reconnect_window", "must not be negative")
	}
	if c.Store.URL != "" {
		u, err := url.Parse(c.Store.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("store.url", "must be a postgres:// URL (empty for the embedded SQLite)")
		}
	}
	if c.Cluster.RedisURL != "" {
		u, err := url.Parse(c.Cluster.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			bad("cluster.redis_url", "must be a redis:// or rediss:// URL")
		}
		if c.Store.URL == "" {
			bad("cluster.redis_url", "several nodes need a shared store: set store.url to PostgreSQL")
		}
	}
	if t := c.Admin.Token; t != "" && len(t) < 16 {
		bad("admin.token", "must be at least 16 characters")
	}
	if d := c.Admin.SessionTTL.Std(); d < time.Minute || d > 30*24*time.Hour {
		bad("admin.session_ttl", "must be between 1m and 720h, got %s", d)
	}
	ids := map[string]bool{}
	keys := map[string]bool{}
	for i, s := range c.Streams {
		key := fmt.Sprintf("streams[%d]", i)
		if !streamIDPattern.MatchString(s.ID) {
			bad(key+".id", "%q must be 1-64 letters, digits, _ or -", s.ID)
		}
		if ids[s.ID] {
			bad(key+".id", "%q is declared twice", s.ID)
		}
		ids[s.ID] = true
		if s.Key != "" {
			if len(s.Key) < 8 || strings.ContainsAny(s.Key, "/?#& ") {
				bad(key+".key", "must be at least 8 characters without / ? # & or spaces")
			}
			if keys[s.Key] {
				bad(key+".key", "is the key of another stream")
			}
			keys[s.Key] = true
		}
	}
	return errors.Join(errs...)
}
