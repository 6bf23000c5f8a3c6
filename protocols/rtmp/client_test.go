package rtmp

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"

	"vitrine/stream"
)

// These tests publish crafted FLV tags with go-rtmp's client, for the cases
// no real encoder produces on demand.

type publisher struct {
	t  *testing.T
	cc *gortmp.ClientConn
	st *gortmp.Stream
}

func dialPublish(t *testing.T, e *env, key string) *publisher {
	t.Helper()
	cc, err := gortmp.Dial("rtmp", e.srv.Addr().String(), &gortmp.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	if err := cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{App: "live"}}); err != nil {
		t.Fatal(err)
	}
	st, err := cc.CreateStream(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(&message.NetStreamPublish{PublishingName: key, PublishingType: "live"}); err != nil {
		t.Fatal(err)
	}
	return &publisher{t: t, cc: cc, st: st}
}

// send writes FLV tags as RTMP messages; it reports the first write error
// (once the server closed the connection).
func (p *publisher) send(tags ...flvTag) error {
	for _, tag := range tags {
		var err error
		switch tag.typ {
		case 8:
			err = p.st.Write(4, tag.ts, &message.AudioMessage{Payload: bytes.NewReader(tag.body)})
		case 9:
			err = p.st.Write(6, tag.ts, &message.VideoMessage{Payload: bytes.NewReader(tag.body)})
		case 18:
			err = p.st.Write(5, tag.ts, &message.DataMessage{
				Name: "@setDataFrame", Encoding: message.EncodingTypeAMF0, Body: bytes.NewReader(tag.body),
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sampleUntil returns the sample's tags up to (excluding) the first with a
// timestamp of at least ms.
func sampleUntil(t *testing.T, ms uint32) []flvTag {
	var out []flvTag
	for _, tag := range sampleTags(t) {
		if tag.ts >= ms {
			break
		}
		out = append(out, tag)
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func online(e *env, id string) bool {
	st, ok := e.hub.Get(id)
	return ok && st.Online()
}

// TestBogusTags: a publisher that sends something wrong mid-stream loses its
// own connection, with a log line that says what was wrong.
func TestBogusTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name string
		tag  flvTag
		log  string
	}{
		{"HEVC over enhanced RTMP", flvTag{9, 600, []byte{0x91, 'h', 'v', 'c', '1', 0, 0, 0}}, `video codec \"hvc1\" (enhanced RTMP) is not supported`},
		{"VP6", flvTag{9, 600, []byte{0x24, 0, 0}}, "video codec VP6 (FLV codec id 4) is not supported"},
		{"bogus AVC configuration", flvTag{9, 600, []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x0a, 0xff, 0xe1, 0, 9, 0x67}}, "H.264 sequence header: SPS: invalid length"},
		{"truncated NAL unit", flvTag{9, 600, []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 50, 0x41, 1}}, "H.264 frame: invalid length"},
		{"MP3", flvTag{8, 600, []byte{0x2f, 0xff, 0xfb}}, "audio codec MP3"},
		{"AAC configuration change", flvTag{8, 600, []byte{0xaf, 0, 0x12, 0x10}}, "AAC configuration changed mid-stream (48000 Hz 1 ch to 44100 Hz 2 ch)"},
		{"empty video tag", flvTag{9, 600, []byte{0x17}}, "video tag header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := "ok-" + strings.ReplaceAll(tc.name, " ", "-")
			p := dialPublish(t, e, key)
			if err := p.send(sampleUntil(t, 500)...); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the stream", 5*time.Second, func() bool { return online(e, key) })
			_ = p.send(tc.tag)
			waitFor(t, "the publisher to be dropped", 5*time.Second, func() bool { return !online(e, key) })
			// The stream ends before the connection logs why it dropped.
			waitFor(t, "a log line with "+strconv.Quote(tc.log), 5*time.Second, func() bool {
				return strings.Contains(e.logs.String(), tc.log)
			})
		})
	}
}

// TestLateDuplicatePublish: two encoders pass the publish check before
// either has sent its codec configuration; the second to reach the hub is
// refused and the first keeps publishing.
func TestLateDuplicatePublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)
	tags := sampleTags(t)

	early := dialPublish(t, e, testKey)
	late := dialPublish(t, e, testKey)
	// Both publishes are accepted: the stream is not online yet.
	waitFor(t, "both publishes", 5*time.Second, func() bool {
		return strings.Count(e.logs.String(), "rtmp publish accepted") == 2
	})
	if err := late.send(tags[:8]...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream", 5*time.Second, func() bool { return online(e, testStream) })
	_ = early.send(tags[:8]...)
	waitFor(t, "the refusal", 5*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "stream s1: stream already has a publisher")
	})
	n := rec.count()
	if err := late.send(tags[8:]...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "more units", 5*time.Second, func() bool { return rec.count() > n })
	if !online(e, testStream) {
		t.Fatal("the refusal took the stream down")
	}
}

// TestAudioOnlyMetadata: metadata announcing audio only publishes as soon as
// the AAC configuration arrives.
func TestAudioOnlyMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)
	p := dialPublish(t, e, testKey)
	var audio []flvTag
	for _, tag := range sampleTags(t) {
		if tag.typ == 8 {
			audio = append(audio, tag)
		}
	}
	meta := flvTag{18, 0, amf0("onMetaData", map[string]any{"audiocodecid": 10.0, "audiosamplerate": 48000.0})}
	if err := p.send(meta, audio[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream", 5*time.Second, func() bool { return online(e, testStream) })
	if err := p.send(audio[1:]...); err != nil {
		t.Fatal(err)
	}
	rec.waitUnits(t, len(audio)-1, 5*time.Second)
	units, _, _, tracks := rec.snapshot()
	if len(tracks) != 1 || tracks[0].Codec.(*stream.MPEG4Audio).Config.SampleRate != 48000 {
		t.Fatalf("tracks %v", tracks)
	}
	for i, u := range units {
		if !u.key || u.video || len(u.payload) != 1 || u.pts != u.dts {
			t.Fatalf("unit %d: %+v", i, u)
		}
	}
}

// TestNotLive: a key whose campaign is not live is refused with its reason.
func TestNotLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	p := dialPublish(t, e, "not-live")
	waitFor(t, "the refusal", 5*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "stream is not open for publishing")
	})
	_ = p
}
