package hls

import (
	"math/big"
	"testing"
	"time"

	"vitrine/stream"
)

func TestToClockRate(t *testing.T) {
	exact := func(d time.Duration, rate int) int64 {
		// floor(d * rate / 1e9) in arbitrary precision.
		n := new(big.Int).Mul(big.NewInt(int64(d)), big.NewInt(int64(rate)))
		q, m := new(big.Int).DivMod(n, big.NewInt(int64(time.Second)), new(big.Int))
		_ = m // DivMod is Euclidean: q is the floor for a positive divisor
		return q.Int64()
	}
	cases := []time.Duration{
		0, 1, time.Millisecond, 33_366_666, time.Second - 1, time.Second,
		-1, -time.Millisecond, -time.Second - 1,
		30 * 24 * time.Hour, 30*24*time.Hour + 123_456_789, // a month-long live: d*rate alone overflows
		1<<62 + 987_654_321,
	}
	for _, rate := range []int{90000, 48000, 44100, 96000} {
		for _, d := range cases {
			if got, want := toClockRate(d, rate), exact(d, rate); got != want {
				t.Errorf("toClockRate(%d, %d) = %d, want %d", d, rate, got, want)
			}
		}
	}
	// 30 fps for 10 hours: no drift at all.
	const frames = 30 * 3600 * 10
	d := time.Duration(frames) * time.Second / 30
	if got := toClockRate(d, 90000); got != frames*3000 {
		t.Errorf("frame %d at %d, want %d", frames, got, frames*3000)
	}
}

func TestSplitPath(t *testing.T) {
	cases := []struct {
		path, id, file string
		status         int
	}{
		{"/live/s1/index.m3u8", "s1", "index.m3u8", 0},
		{"/live/camp-42_x/video1_stream.m3u8", "camp-42_x", "video1_stream.m3u8", 0},
		{"/live/s1/0a1b2c3d4e5f_video1_part12.mp4", "s1", "0a1b2c3d4e5f_video1_part12.mp4", 0},
		{"/live/s1/", "", "", 404},
		{"/live/s1", "", "", 404},
		{"/live//index.m3u8", "", "", 404},
		{"/live/s1/a/index.m3u8", "", "", 404},
		{"/other/s1/index.m3u8", "", "", 404},
		{"/live/s1/index.html", "", "", 404},
		{"/live/../index.m3u8", "", "", 400},
		{"/live/s1/..m3u8", "", "", 400},
		{"/live/s1/.hidden.mp4", "", "", 400},
		{"/live/s1/a b.mp4", "", "", 400},
		{"/live/s1/a%2f.mp4", "", "", 400},
		{"/live/s\x00/index.m3u8", "", "", 400},
	}
	for _, c := range cases {
		id, file, err := splitPath(c.path)
		switch {
		case c.status == 0 && (err != nil || id != c.id || file != c.file):
			t.Errorf("%q: %q %q %v", c.path, id, file, err)
		case c.status != 0 && (err == nil || err.status != c.status):
			t.Errorf("%q: %v, want %d", c.path, err, c.status)
		}
	}
}

func TestNewValidates(t *testing.T) {
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 64})
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"no hub":            {},
		"few segments":      {Hub: hub, SegmentCount: 3},
		"part too short":    {Hub: hub, PartMinDuration: time.Millisecond},
		"part over segment": {Hub: hub, SegmentMinDuration: time.Second, PartMinDuration: time.Second},
		"bad origin":        {Hub: hub, AllowOrigins: []string{"nope"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := New(Config{Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.SegmentCount != 7 || s.cfg.SegmentMinDuration != time.Second ||
		s.cfg.PartMinDuration != 200*time.Millisecond || len(s.cfg.AllowOrigins) != 1 || s.cfg.AllowOrigins[0] != "*" {
		t.Errorf("defaults %+v", s.cfg)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("started twice")
	}
	s.Close()
	s.Close()
}

func TestNonEmpty(t *testing.T) {
	a, b := []byte{1}, []byte{2}
	in := [][]byte{a, {}, b, nil}
	out := nonEmpty(in)
	if len(out) != 2 || out[0][0] != 1 || out[1][0] != 2 || len(in[1]) != 0 || len(in) != 4 {
		t.Fatalf("nonEmpty: %v (input now %v)", out, in)
	}
	full := [][]byte{a, b}
	if got := nonEmpty(full); &got[0] != &full[0] {
		t.Error("nonEmpty copied a slice without empty units")
	}
}
