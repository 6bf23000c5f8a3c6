package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != ":8080" || c.RTMP.Listen != ":1935" || c.Data.Dir != "./data" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.HLS.PartMinDuration.Std() != 200*time.Millisecond {
		t.Fatalf("part duration %v", c.HLS.PartMinDuration.Std())
	}
	if len(c.Streams) != 1 || c.Streams[0].ID != "demo" {
		t.Fatalf("streams %+v", c.Streams)
	}
}

func TestFileThenEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v.yml")
	yml := "http:\n  listen: \":9000\"\nhls:\n  part_min_duration: 300ms\nstreams:\n  - id: shop1\n    key: secretkey1\n"
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file, []string{
		"VITRINE_HTTP_LISTEN=:18080", "VITRINE_DATA_DIR=/tmp/x", "VITRINE_RTMP_ENABLED=false",
		"VITRINE_STREAM_RECONNECT_WINDOW=5s", "VITRINE_HTTP_ALLOW_ORIGINS=https://a.example, https://b.example",
		"PATH=/bin", "VITRINE_ARTIFACTS=/tmp/a",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != ":18080" || c.Data.Dir != "/tmp/x" || c.RTMP.Enabled {
		t.Fatalf("env not applied: %+v", c)
	}
	if len(c.IgnoredEnv) != 1 || c.IgnoredEnv[0] != "VITRINE_ARTIFACTS" {
		t.Fatalf("ignored variables %q, want VITRINE_ARTIFACTS", c.IgnoredEnv)
	}
	if c.HLS.PartMinDuration.Std() != 300*time.Millisecond || c.Stream.ReconnectWindow.Std() != 5*time.Second {
		t.Fatalf("durations: %+v", c)
	}
	if len(c.HTTP.AllowOrigins) != 2 || c.HTTP.AllowOrigins[1] != "https://b.example" {
		t.Fatalf("origins %q", c.HTTP.AllowOrigins)
	}
	if len(c.Streams) != 1 || c.Streams[0] != (StreamKey{ID: "shop1", Key: "secretkey1"}) {
		t.Fatalf("streams from file %+v", c.Streams)
	}
	c, err = Load(file, []string{"VITRINE_STREAMS=a:key-aaaaaaaa,b:key-bbbbbbbb"})
	if err != nil || len(c.Streams) != 2 || c.Streams[1].Key != "key-bbbbbbbb" {
		t.Fatalf("VITRINE_STREAMS: %+v %v", c, err)
	}
}

func TestErrorsAreClear(t *testing.T) {
	cases := []struct {
		name, yml string
		env       []string
		want      string
	}{
		{"unknown env", "", []string{"VITRINE_HTTP_LISTN=:1"}, "VITRINE_HTTP_LISTN is not a Vitrine setting"},
		{"bad env int", "", []string{"VITRINE_HLS_SEGMENT_COUNT=many"}, "not an integer"},
		{"bad env duration", "", []string{"VITRINE_HLS_PART_MIN_DURATION=fast"}, "not a duration"},
		{"unknown yaml key", "htp:\n  listen: x\n", nil, "field htp not found"},
		{"bad yaml duration", "hls:\n  part_min_duration: soon\n", nil, `"soon" is not a duration`},
		{"bad listen", "http:\n  listen: \"8080\"\n", nil, "http.listen"},
		{"bad level", "log:\n  level: loud\n", nil, "log.level"},
		{"part longer than segment", "hls:\n  part_min_duration: 2s\n", nil, "hls.segment_min_duration"},
		{"bad stream id", "streams:\n  - id: \"a/b\"\n", nil, "streams[0].id"},
		{"short key", "streams:\n  - id: a\n    key: x\n", nil, "streams[0].key"},
		{"duplicate id", "streams:\n  - id: a\n  - id: a\n", nil, "declared twice"},
		{"bad ice server", "webrtc:\n  ice_servers: [\"http://x\"]\n", nil, "webrtc.ice_servers[0]"},
		{"turn without credentials", "", []string{"VITRINE_WEBRTC_ICE_SERVERS=turn:host:3478"}, "needs user:password@host"},
		{"bad public ip", "", []string{"VITRINE_WEBRTC_PUBLIC_IPS=1.2.3"}, "webrtc.public_ips[0]"},
		{"half rtsp udp", "rtsp:\n  udp_rtp: \"\"\n", nil, "rtsp.udp_rtp"},
		{"bad public url", "http:\n  public_url: ftp://x\n", nil, "http.public_url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := ""
			if tc.yml != "" {
				file = filepath.Join(t.TempDir(), "v.yml")
				if err := os.WriteFile(file, []byte(tc.yml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(file, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	file := filepath.Join(t.TempDir(), "empty.yml")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file, nil); err != nil {
		t.Fatal(err)
	}
}

func TestParseICEServer(t *testing.T) {
	got, err := ParseICEServer("turn:us%40er:p%3Ass@turn.example.com:3478?transport=tcp")
	want := ICEServer{URL: "turn:turn.example.com:3478?transport=tcp", Username: "us@er", Credential: "p:ss"}
	if err != nil || got != want {
		t.Fatalf("got %+v %v, want %+v", got, err, want)
	}
	if got, err := ParseICEServer("stun:stun.example.com:3478"); err != nil || got.URL != "stun:stun.example.com:3478" {
		t.Fatalf("stun: %+v %v", got, err)
	}
}
