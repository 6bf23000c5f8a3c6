package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafov/m3u8"

	"vitrine/configs"
	"vitrine/internal/browser"
	"vitrine/internal/testenv"
	"vitrine/store"
)

// probed is what ffprobe says of a file or URL.
type probed struct {
	Duration float64 // container
	Video    int     // decoded video frames
	Audio    int     // decoded audio frames
}

// ffprobe decodes every frame of input (-count_frames) and reports
// durations and counts; a decoding error fails the test.
func ffprobe(t *testing.T, input string) probed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-count_frames",
		"-show_entries", "format=duration:stream=codec_type,nb_read_frames", "-of", "json", input)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(stderr.String()) != "" {
		t.Fatalf("ffprobe %s: %v\n%s", input, err, stderr.String())
	}
	var res struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			CodecType string `json:"codec_type"`
			Frames    string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe output: %v: %s", err, out)
	}
	var p probed
	p.Duration, _ = strconv.ParseFloat(res.Format.Duration, 64)
	for _, s := range res.Streams {
		n, _ := strconv.Atoi(s.Frames)
		switch s.CodecType {
		case "video":
			p.Video += n
		case "audio":
			p.Audio += n
		}
	}
	return p
}

// get fetches a URL with optional headers and returns status, headers, body.
func get(t *testing.T, url string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

// download waits out 202s (finalising) and returns the file.
func (c *adminClient) download(path string, header ...string) (int, http.Header, []byte) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, h, b := get(c.t, c.base+path, append([]string{"Authorization", "Bearer " + c.token}, header...)...)
		if status != http.StatusAccepted || time.Now().After(deadline) {
			return status, h, b
		}
		if h.Get("Retry-After") == "" {
			c.t.Fatalf("202 without Retry-After: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type recordingView struct {
	State    string  `json:"state"`
	Error    string  `json:"error"`
	Sessions int     `json:"sessions"`
	Segments int     `json:"segments"`
	Duration float64 `json:"duration"`
	Replay   string  `json:"replay"`
}

// waitRecording waits for the campaign's recording to reach state.
func (c *adminClient) waitRecording(id, state string, within time.Duration) recordingView {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var v recordingView
		status := c.do("GET", "/api/v1/campaigns/"+id+"/recording", nil, &v)
		if status == 200 && v.State == state {
			return v
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("recording of %s: status %d, %+v; want state %s", id, status, v, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type replayEvent struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	Offset float64         `json:"offset"`
}

type sequenceView struct {
	ID         string    `json:"id"`
	ProductID  string    `json:"product_id"`
	PinnedAt   time.Time `json:"pinned_at"`
	UnpinnedAt time.Time `json:"unpinned_at"`
	Open       bool      `json:"open"`
	Start      float64   `json:"start"`
	Duration   float64   `json:"duration"`
	Playlist   string    `json:"playlist"`
	Download   string    `json:"download"`
}

// liveCampaign creates products and a campaign with them, and goes live.
func liveCampaign(t *testing.T, admin *adminClient, products int) (campaignView, []string) {
	t.Helper()
	var ids []string
	for i := range products {
		var p struct{ ID string }
		admin.must(201, "POST", "/api/v1/products", map[string]any{
			"sku": fmt.Sprintf("SKU-%d-%d", time.Now().UnixNano(), i), "name": fmt.Sprintf("Bag %d", i), "category": "bags",
			"price": "129.00", "currency": "EUR", "stock": 10, "url": "https://shop.example.com/p"}, &p)
		ids = append(ids, p.ID)
	}
	var c campaignView
	admin.must(201, "POST", "/api/v1/campaigns", map[string]any{
		"title": "Replay show", "visibility": "suggested", "published": true,
		"starts_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "ends_at": time.Now().Add(2 * time.Hour).Format(time.RFC3339),
		"product_ids": ids}, &c)
	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil, &c)
	return c, ids
}

// TestReplay is the recorder end to end: ffmpeg pushes 30 s over RTMP with
// pins at known times; the replay plays in ffmpeg with the right duration
// and frame count, its events come back at the right offsets, product
// sequences start within a GOP of their pins and end at their unpins, the
// MP4 downloads decode and answer Range requests, the ZIP holds every
// sequence, bad ids are refused, and a reset leaves nothing behind.
func TestReplay(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	c, products := liveCampaign(t, admin, 2)
	base := "http://" + s.HTTPAddr().String()

	const seconds = 30
	push := testenv.Push(t, testenv.DefaultSource(seconds), c.Ingest.RTMP)
	waitOnline(t, s, c.ID, 10*time.Second)
	online := time.Now()

	type pinned struct {
		At time.Time `json:"at"`
	}
	pin := func(id string) time.Time {
		var v pinned
		admin.must(201, "POST", "/api/v1/campaigns/"+c.ID+"/pins", map[string]any{"kind": "product", "id": id}, &v)
		return v.At
	}
	unpin := func(id string) time.Time {
		var v pinned
		admin.must(200, "DELETE", "/api/v1/campaigns/"+c.ID+"/pins/product/"+id, nil, &v)
		return v.At
	}
	time.Sleep(5 * time.Second)
	pinA := pin(products[0])
	room, err := s.overlay.Room(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := room.Chat(t.Context(), "v1", "Ana", "love it", false)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := room.Chat(t.Context(), "v2", "Bob", "spam", false)
	if err != nil {
		t.Fatal(err)
	}
	// Moderation (another branch's event type): the recorder only reads it.
	if _, err := room.Publish(t.Context(), "chat.deleted", map[string]string{"message_id": messageID(t, gone.Data)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(7 * time.Second)
	unpinA := unpin(products[0])
	time.Sleep(3 * time.Second)
	pinB := pin(products[1]) // left pinned: its interval runs to the end of the live
	// An order of the live, reported by the shop: the reset deletes it.
	b, _ := json.Marshal(map[string]any{"code": "R-1", "items": []map[string]any{{"product_id": products[1], "quantity": 1}},
		"customer_name": "Ana", "total": "129.00", "currency": "EUR"})
	req, _ := http.NewRequest("POST", admin.base+"/api/v1/campaigns/"+c.ID+"/orders", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+admin.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "order-R-1")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("order: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	// While live: downloads wait for the end; the replay is an EVENT playlist.
	status, _, _ := admin.download("/api/v1/campaigns/" + c.ID + "/download.mp4")
	if status != http.StatusConflict {
		t.Fatalf("download during the live: %d, want 409", status)
	}
	if err, out := push.Wait(seconds * 3 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, nil)
	rec := admin.waitRecording(c.ID, "ready", 30*time.Second)
	if rec.Sessions != 1 || math.Abs(rec.Duration-seconds) > 1 {
		t.Fatalf("recording: %+v", rec)
	}

	// The replay plays in ffmpeg: duration and frames (30 fps).
	index := base + "/replay/" + c.ID + "/index.m3u8"
	status, _, body := get(t, index)
	if status != 200 || !bytes.Contains(body, []byte("#EXT-X-PLAYLIST-TYPE:VOD")) || !bytes.Contains(body, []byte("#EXT-X-ENDLIST")) ||
		!bytes.Contains(body, []byte("#EXT-X-MAP:URI=\"s1/init.mp4\"")) || !bytes.Contains(body, []byte("#EXT-X-PROGRAM-DATE-TIME:")) {
		t.Fatalf("replay playlist: %d\n%s", status, body)
	}
	pl, _, err := m3u8.DecodeFrom(bytes.NewReader(body), true)
	if err != nil {
		t.Fatal(err)
	}
	media := pl.(*m3u8.MediaPlaylist)
	first := media.Segments[0].ProgramDateTime
	// The replay's clock is the ingest's: its first frame was captured when
	// the publisher came online (so an event's offset is where it happened
	// in the picture, not merely at - first).
	if d := first.Sub(online); d < -2*time.Second || d > time.Second {
		t.Fatalf("first segment's PROGRAM-DATE-TIME %v, %v from the publisher's arrival", first, d)
	}
	p := ffprobe(t, index)
	t.Logf("replay: %d segments, %.2f s, %d video and %d audio frames", media.Count(), p.Duration, p.Video, p.Audio)
	if math.Abs(p.Duration-seconds) > 0.5 || p.Video < seconds*30-5 || p.Video > seconds*30 || p.Audio < seconds*46 {
		t.Fatalf("replay probed %+v, want %d s, %d video frames", p, seconds, seconds*30)
	}

	// Events come back at their offsets, without the deleted message.
	var evs struct {
		Start    time.Time     `json:"start"`
		Duration float64       `json:"duration"`
		Events   []replayEvent `json:"events"`
	}
	status, _, body = get(t, base+"/replay/"+c.ID+"/events")
	if status != 200 || json.Unmarshal(body, &evs) != nil {
		t.Fatalf("events: %d %s", status, body)
	}
	var types []string
	for _, e := range evs.Events {
		types = append(types, e.Type)
		want := e.At.Sub(first).Seconds()
		if e.Type != "stream.live" && e.Type != "stream.ended" && math.Abs(e.Offset-want) > 0.05 {
			t.Errorf("%s at %v: offset %.3f, want %.3f", e.Type, e.At, e.Offset, want)
		}
		if e.Type == "chat.message" && bytes.Contains(e.Data, []byte("spam")) {
			t.Errorf("a deleted message is in the replay: %s", e.Data)
		}
	}
	if got := strings.Join(types, ","); !strings.Contains(got, "product.pinned,chat.message,product.unpinned,product.pinned") ||
		!strings.HasSuffix(got, "stream.ended") {
		t.Fatalf("replay events: %s", got)
	}
	_ = kept
	// A window, by replay offsets (the unpin of A to the pin of B).
	var offA, offB float64
	for _, e := range evs.Events {
		switch {
		case e.Type == "product.unpinned":
			offA = e.Offset
		case e.Type == "product.pinned" && e.At.Equal(pinB):
			offB = e.Offset
		}
	}
	status, _, body = get(t, base+"/replay/"+c.ID+"/events?from="+fmt.Sprint(offA-0.001)+"&to="+fmt.Sprint(offB+0.001))
	var window struct{ Events []replayEvent }
	if status != 200 || json.Unmarshal(body, &window) != nil || len(window.Events) != 2 ||
		window.Events[0].Type != "product.unpinned" || window.Events[1].Type != "product.pinned" {
		t.Fatalf("events window: %d %s", status, body)
	}

	// The Products tab.
	var tl struct {
		Products []struct {
			ProductID string `json:"product_id"`
			Intervals []struct {
				From time.Time `json:"from"`
				To   time.Time `json:"to"`
				Open bool      `json:"open"`
			} `json:"intervals"`
			Total float64 `json:"total_display_time"`
		} `json:"products"`
	}
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID+"/products-timeline", nil, &tl)
	if len(tl.Products) != 2 || tl.Products[0].ProductID != products[0] || tl.Products[1].ProductID != products[1] ||
		math.Abs(tl.Products[0].Total-unpinA.Sub(pinA).Seconds()) > 0.01 || !tl.Products[1].Intervals[0].Open {
		t.Fatalf("products timeline: %+v", tl)
	}

	// Sequences: start within a GOP (1 s) before the pin, end at the unpin.
	var seqs struct{ Items []sequenceView }
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID+"/sequences", nil, &seqs)
	if len(seqs.Items) != 2 {
		t.Fatalf("sequences: %+v", seqs)
	}
	dir := t.TempDir()
	for i, sq := range seqs.Items {
		pinOff := sq.PinnedAt.Sub(first).Seconds()
		if sq.Start > pinOff || sq.Start < pinOff-1.05 {
			t.Errorf("sequence %s starts at %.3f, pin at %.3f", sq.ID, sq.Start, pinOff)
		}
		status, h, b := admin.download(strings.TrimPrefix(sq.Download, base))
		if status != 200 || h.Get("Content-Type") != "video/mp4" {
			t.Fatalf("sequence download: %d %s", status, b[:min(len(b), 200)])
		}
		file := filepath.Join(dir, fmt.Sprintf("seq%d.mp4", i))
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p := ffprobe(t, file)
		want := sq.UnpinnedAt.Sub(sq.PinnedAt).Seconds() + (pinOff - sq.Start)
		t.Logf("sequence %s: pin %.3f, clip start %.3f, %.3f s, %d frames (want %.3f s)", sq.ID, pinOff, sq.Start, p.Duration, p.Video, want)
		// Frames up to the unpin, and with B-frames the reference frames
		// they need after it: x264's default reorder depth (two frames
		// with its B-pyramid) plus the frame in progress, 100 ms at 30 fps.
		if p.Duration < want-0.04 || p.Duration > want+0.1 || p.Video < int(want*30)-1 || p.Video > int(want*30)+3 {
			t.Errorf("sequence %s: %+v, want %.3f s", sq.ID, p, want)
		}
		// As HLS, the sequence ends at the unpin too: its last segment is
		// the one holding the unpin cut there (last.m4s), with the MP4's
		// frames, not that whole segment; a sequence still pinned at the
		// end of the live ends there, as its MP4 does.
		status, h, b = get(t, sq.Playlist)
		if status != 200 || !bytes.Contains(b, []byte("../../s1/")) || h.Get("Content-Type") != "application/vnd.apple.mpegurl" {
			t.Fatalf("sequence playlist: %d %s", status, b)
		}
		pl, _, err := m3u8.DecodeFrom(bytes.NewReader(b), true)
		if err != nil {
			t.Fatalf("sequence playlist: %v\n%s", err, b)
		}
		segs := pl.(*m3u8.MediaPlaylist).Segments
		lastSeg := segs[pl.(*m3u8.MediaPlaylist).Count()-1]
		cut := lastSeg.URI == "last.m4s"
		// Where the playlist ends past the unpin on the media clock.
		over := lastSeg.ProgramDateTime.Add(time.Duration(lastSeg.Duration * float64(time.Second))).Sub(sq.UnpinnedAt).Seconds()
		hp := ffprobe(t, sq.Playlist)
		t.Logf("sequence %s as HLS: %.3f s, %d video and %d audio frames, cut segment %v; ends %+.3f s from the unpin (the MP4 %+.3f s)",
			sq.ID, hp.Duration, hp.Video, hp.Audio, cut, hp.Duration-want, p.Duration-want)
		// Whole segments only if the unpin is in the last frames of one:
		// the frame on screen, and with B-frames the reference frames
		// kept after it (as for the MP4 above, 100 ms at 30 fps).
		if (!cut && over > 0.1) || hp.Duration < want-0.04 || hp.Duration > want+0.1 || hp.Video < p.Video-3 || hp.Video > p.Video+3 {
			t.Errorf("sequence %s as HLS: %+v, want %.3f s and the MP4's %d frames (cut segment %v, %.3f s past the unpin)\n%s",
				sq.ID, hp, want, p.Video, cut, over, b)
		}
		last := strings.TrimSuffix(sq.Playlist, "index.m3u8") + "last.m4s"
		status, h, lb := get(t, last)
		switch {
		case !cut && (status != 404 || !strings.HasPrefix(h.Get("Content-Type"), "application/json")):
			t.Errorf("last.m4s of a sequence without a cut segment: %d %s", status, h.Get("Content-Type"))
		case cut && (status != 200 || h.Get("Content-Type") != "video/mp4" || h.Get("Cache-Control") != "public, max-age=3600" ||
			h.Get("Accept-Ranges") != "bytes" || len(lb) < 1000):
			t.Errorf("last.m4s: %d %v, %d bytes", status, h, len(lb))
		case cut:
			status, h, rb := get(t, last, "Range", "bytes=100-299")
			if status != http.StatusPartialContent || !bytes.Equal(rb, lb[100:300]) ||
				h.Get("Content-Range") != fmt.Sprintf("bytes 100-299/%d", len(lb)) {
				t.Errorf("last.m4s Range: %d %q, %d bytes", status, h.Get("Content-Range"), len(rb))
			}
		}
	}
	if a := seqs.Items[0]; !a.UnpinnedAt.Equal(unpinA) || a.Open {
		t.Errorf("sequence A: %+v, unpinned at %v", a, unpinA)
	}

	// The whole replay as MP4: decodes fully, Range returns the right bytes.
	status, h, full := admin.download("/api/v1/campaigns/" + c.ID + "/download.mp4")
	if status != 200 || h.Get("Content-Length") != strconv.Itoa(len(full)) || h.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("replay download: %d %v", status, h)
	}
	file := filepath.Join(dir, "replay.mp4")
	if err := os.WriteFile(file, full, 0o600); err != nil {
		t.Fatal(err)
	}
	p = ffprobe(t, file)
	t.Logf("replay MP4: %d bytes, %.2f s, %d video and %d audio frames", len(full), p.Duration, p.Video, p.Audio)
	if math.Abs(p.Duration-seconds) > 0.5 || p.Video < seconds*30-5 || p.Video > seconds*30 {
		t.Fatalf("replay MP4: %+v", p)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", file, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("replay MP4 does not decode cleanly: %v %s", err, out)
	}
	for _, r := range []struct {
		header   string
		from, to int
	}{{"bytes=0-99", 0, 100}, {"bytes=1000-200000", 1000, 200001}, {fmt.Sprintf("bytes=%d-", len(full)-5000), len(full) - 5000, len(full)},
		{"bytes=-777", len(full) - 777, len(full)}} {
		status, h, b := admin.download("/api/v1/campaigns/"+c.ID+"/download.mp4", "Range", r.header)
		if status != http.StatusPartialContent || !bytes.Equal(b, full[r.from:r.to]) ||
			h.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", r.from, r.to-1, len(full)) {
			t.Errorf("Range %s: %d %q, %d bytes", r.header, status, h.Get("Content-Range"), len(b))
		}
	}
	if status, _, _ := admin.download("/api/v1/campaigns/"+c.ID+"/download.mp4", "Range", fmt.Sprintf("bytes=%d-", len(full)+10)); status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: %d", status)
	}

	// Every sequence in one ZIP.
	status, _, zb := admin.download("/api/v1/campaigns/" + c.ID + "/sequences.zip")
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if status != 200 || err != nil || len(zr.File) != 2 {
		t.Fatalf("zip: %d %v", status, err)
	}
	for i, f := range zr.File {
		rc, _ := f.Open()
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("zip entry %s: %v", f.Name, err)
		}
		name := filepath.Join(dir, fmt.Sprintf("zip%d.mp4", i))
		_ = os.WriteFile(name, b, 0o600)
		if p := ffprobe(t, name); p.Video == 0 {
			t.Errorf("zip entry %s: %+v", f.Name, p)
		}
	}

	checkBadReplayRequests(t, admin, base, c.ID)

	// Statistics of the live: a viewer's tracked event.
	if _, err := s.store.InsertTrackedEvents(t.Context(), []store.TrackedEvent{{CampaignID: c.ID, EventID: "reset-test-1",
		Type: "page.view", At: time.Now().UTC().Truncate(time.Microsecond), ViewerID: "v1", Device: "desktop"}}); err != nil {
		t.Fatal(err)
	}
	var before struct{ Items []any }
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID+"/orders", nil, &before)
	if len(before.Items) != 1 {
		t.Fatalf("orders before the reset: %+v", before)
	}

	// Reset: confirmed by the id, then nothing of the live is left.
	admin.must(422, "POST", "/api/v1/campaigns/"+c.ID+"/reset", map[string]any{"confirm": "yes"}, nil)
	var after campaignView
	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/reset", map[string]any{"confirm": c.ID}, &after)
	if after.Status != "upcoming" {
		t.Fatalf("after reset: %+v", after)
	}
	admin.must(404, "GET", "/api/v1/campaigns/"+c.ID+"/recording", nil, nil)
	if status, _, _ := get(t, index); status != 404 {
		t.Fatalf("replay after reset: %d", status)
	}
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID+"/products-timeline", nil, &tl)
	if len(tl.Products) != 0 {
		t.Fatalf("products after reset: %+v", tl)
	}
	if _, err := os.Stat(filepath.Join(s.cfg.Data.Dir, "recordings", c.ID)); !os.IsNotExist(err) {
		t.Fatalf("recording files after reset: %v", err)
	}
	var orders struct{ Items []any }
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID+"/orders", nil, &orders)
	if len(orders.Items) != 0 {
		t.Fatal("orders after reset")
	}
	tracked := 0
	if err := s.store.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: c.ID}, func(*store.TrackedEvent) error {
		tracked++
		return nil
	}); err != nil || tracked != 0 {
		t.Fatalf("statistics after reset: %d tracked events (%v)", tracked, err)
	}
	// The data channel starts over at seq 1.
	var v struct {
		Seq int64 `json:"seq"`
	}
	admin.must(201, "POST", "/api/v1/campaigns/"+c.ID+"/pins", map[string]any{"kind": "product", "id": products[0]}, &v)
	if v.Seq != 1 {
		t.Fatalf("first event after reset: seq %d", v.Seq)
	}
}

func messageID(t *testing.T, data []byte) string {
	t.Helper()
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.ID == "" {
		t.Fatalf("chat message data %s: %v", data, err)
	}
	return m.ID
}

// checkBadReplayRequests: unknown ids and path tricks in every download
// and replay route are refused with a 4xx JSON error, never a file.
func checkBadReplayRequests(t *testing.T, admin *adminClient, base, id string) {
	t.Helper()
	admin404 := []string{
		"/api/v1/campaigns/cmp_nope/download.mp4",
		"/api/v1/campaigns/cmp_nope/sequences.zip",
		"/api/v1/campaigns/cmp_nope/recording",
		"/api/v1/campaigns/" + id + "/sequences/999999/download.mp4",
		"/api/v1/campaigns/" + id + "/sequences/..%2f..%2fvitrine.db/download.mp4",
		"/api/v1/campaigns/" + id + "/sequences/-1/download.mp4",
		"/api/v1/campaigns/..%2f..%2fvitrine.db/download.mp4",
		"/api/v1/campaigns/" + id + "%2f..%2f..%2fvitrine.db/download.mp4",
	}
	for _, p := range admin404 {
		status, h, b := get(t, admin.base+p, "Authorization", "Bearer "+admin.token)
		if status < 400 || status >= 500 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || !bytes.Contains(b, []byte(`"error"`)) {
			t.Errorf("GET %s: %d %s %.100s", p, status, h.Get("Content-Type"), b)
		}
	}
	public := []string{
		"/replay/cmp_nope/index.m3u8",
		"/replay/" + id + "/s1/..%2f..%2f..%2fvitrine.db",
		"/replay/" + id + "/s1/000001.m4s%2f..",
		"/replay/" + id + "/s1/999999.m4s",
		"/replay/" + id + "/s2/init.mp4",
		"/replay/" + id + "/s0/init.mp4",
		"/replay/" + id + "/s01/init.mp4",
		"/replay/" + id + "/..%2fs1/init.mp4",
		"/replay/..%2f..%2fadmin.token/index.m3u8",
		"/replay/" + id + "/sequences/abc/index.m3u8",
		"/replay/" + id + "/sequences/99999/index.m3u8",
		"/replay/" + id + "/sequences/99999/last.m4s",
		"/replay/" + id + "/sequences/..%2f..%2fs1/last.m4s",
		"/replay/cmp_nope/sequences/1/last.m4s",
		"/replay/" + id + "/events?from=yesterday",
		"/replay/" + id + "/events?from=NaN",
		"/replay/" + id + "/events?to=Inf",
		"/replay/" + id + "/events?from=1_0",
		"/replay/" + id + "/events?from=0x10",
		"/replay/" + id + "/events?limit=0",
		"/replay/" + id + "/events?cursor=x",
	}
	for _, p := range public {
		status, h, b := get(t, base+p)
		if status < 400 || status >= 500 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d %s %.100s", p, status, h.Get("Content-Type"), b)
		}
	}
	// Without the token, the admin downloads say nothing.
	if status, _, _ := get(t, admin.base+"/api/v1/campaigns/"+id+"/download.mp4"); status != 401 {
		t.Errorf("download without token: %d", status)
	}
}

// TestReplayReconnect: a publisher that drops and comes back within the
// reconnect window continues the same recording: one replay, one
// discontinuity, every fragment of both sessions.
func TestReplayReconnect(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, func(c *configs.Config) { c.Stream.ReconnectWindow = configs.Duration(20 * time.Second) })
	admin := newAdmin(t, s)
	c, _ := liveCampaign(t, admin, 0)

	const first, second = 6, 5
	for i, d := range []float64{first, second} {
		push := testenv.Push(t, testenv.DefaultSource(d), c.Ingest.RTMP)
		if err, out := push.Wait(time.Duration(d*3) * time.Second); err != nil {
			t.Fatalf("push %d: %v\n%s", i, err, out)
		}
		time.Sleep(1500 * time.Millisecond) // the publisher is away
	}
	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, nil)
	rec := admin.waitRecording(c.ID, "ready", 30*time.Second)
	index := "http://" + s.HTTPAddr().String() + "/replay/" + c.ID + "/index.m3u8"
	_, _, body := get(t, index)
	if n := bytes.Count(body, []byte("#EXT-X-DISCONTINUITY\n")); n != 1 {
		t.Fatalf("%d discontinuities, want 1:\n%s", n, body)
	}
	p := ffprobe(t, index)
	t.Logf("reconnect: %+v; replay %.2f s, %d video frames", rec, p.Duration, p.Video)
	want := (first + second) * 30
	if p.Video < want-5 || p.Video > want || math.Abs(rec.Duration-(first+second)) > 0.5 {
		t.Fatalf("replay after a reconnect: %+v, %+v; want %d frames", p, rec, want)
	}
}

// mseReplayJS plays a replay playlist in the page the way hls.js does:
// Media Source Extensions fed with each session's init segment and its
// fMP4 segments, in playlist order. It resolves when the media is
// appended, with the buffered range.
const mseReplayJS = `(async (index) => {
  const text = await (await fetch(index)).text();
  const base = index.replace(/index\.m3u8$/, "");
  const uris = [];
  for (const line of text.split("\n")) {
    const m = line.match(/^#EXT-X-MAP:URI="([^"]+)"/);
    if (m) uris.push(m[1]);
    else if (line && !line.startsWith("#")) uris.push(line);
  }
  const video = document.createElement("video");
  video.muted = true;
  document.body.appendChild(video);
  const ms = new MediaSource();
  video.src = URL.createObjectURL(ms);
  await new Promise(r => ms.addEventListener("sourceopen", r, {once: true}));
  const sb = ms.addSourceBuffer('video/mp4; codecs="avc1.640028,mp4a.40.2"');
  for (const u of uris) {
    const buf = await (await fetch(base + u)).arrayBuffer();
    sb.appendBuffer(buf);
    await new Promise((ok, ko) => { sb.onupdateend = ok; sb.onerror = () => ko(new Error("append " + u)); });
  }
  ms.endOfStream();
  window.replayVideo = video;
  await video.play();
  return {start: sb.buffered.start(0), end: sb.buffered.end(sb.buffered.length - 1), ranges: sb.buffered.length};
})`

// TestReplayInChromium: the replay's fMP4 plays in a browser's Media
// Source Extensions (what hls.js feeds), across a publisher's reconnection,
// and seeks.
func TestReplayInChromium(t *testing.T) {
	testenv.RequireFFmpeg(t)
	b := browser.Launch(t)
	s := startServer(t, func(c *configs.Config) { c.Stream.ReconnectWindow = configs.Duration(20 * time.Second) })
	admin := newAdmin(t, s)
	c, _ := liveCampaign(t, admin, 0)
	for i := range 2 {
		push := testenv.Push(t, testenv.DefaultSource(4), c.Ingest.RTMP)
		if err, out := push.Wait(30 * time.Second); err != nil {
			t.Fatalf("push %d: %v\n%s", i, err, out)
		}
		time.Sleep(1500 * time.Millisecond)
	}
	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, nil)
	admin.waitRecording(c.ID, "ready", 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := b.NewPage(ctx, "http://"+s.HTTPAddr().String()+"/healthz")
	if err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	defer p.Close()
	var res struct {
		Start, End float64
		Ranges     int
	}
	index := "http://" + s.HTTPAddr().String() + "/replay/" + c.ID + "/index.m3u8"
	if err := p.Eval(ctx, mseReplayJS+`(`+strconv.Quote(index)+`)`, &res); err != nil {
		t.Fatalf("MSE: %v\n%s", err, strings.Join(p.Console(), "\n"))
	}
	t.Logf("buffered %+v", res)
	if res.Ranges != 1 || res.End-res.Start < 7.8 {
		t.Fatalf("buffered %+v: want one range of 8 s (no hole at the reconnection)", res)
	}
	if err := p.WaitFor(ctx, `window.replayVideo.currentTime > 1 && window.replayVideo.getVideoPlaybackQuality().totalVideoFrames > 20`, 100*time.Millisecond); err != nil {
		t.Fatalf("not playing: %v", err)
	}
	// Seek past the reconnection and play on.
	if err := p.Eval(ctx, `(async () => { const v = window.replayVideo; v.currentTime = 6; await new Promise(r => v.addEventListener("seeked", r, {once: true})); return v.currentTime; })()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `window.replayVideo.currentTime > 6.5 && !window.replayVideo.error`, 100*time.Millisecond); err != nil {
		t.Fatalf("no playback after seeking: %v", err)
	}
}
