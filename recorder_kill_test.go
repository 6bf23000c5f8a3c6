package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vitrine/internal/testenv"
)

// vitrine is a running binary.
type vitrine struct {
	cmd      *exec.Cmd
	http     string
	rtmp     string
	log      *testenv.LogBuffer
	finished chan struct{}
}

const killTestToken = "vt_kill-test-token-0123456789"

// startVitrine runs the binary on data with free loopback ports.
func startVitrine(t *testing.T, data string) *vitrine {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "VITRINE_DATA_DIR="+data, "VITRINE_ADMIN_TOKEN="+killTestToken,
		"VITRINE_HTTP_LISTEN=127.0.0.1:0", "VITRINE_RTMP_LISTEN=127.0.0.1:0", "VITRINE_RTSP_LISTEN=127.0.0.1:0",
		"VITRINE_RTSP_UDP_RTP=", "VITRINE_RTSP_UDP_RTCP=", "VITRINE_WEBRTC_ICE_LISTEN=127.0.0.1:0",
		"VITRINE_STREAM_RECONNECT_WINDOW=5s")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &vitrine{cmd: cmd, log: &testenv.LogBuffer{}, finished: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-v.finished
	})
	ready := regexp.MustCompile(`msg="vitrine ready".* http=(\S+).* rtmp=(\S+)`)
	found := make(chan []string, 1)
	go func() {
		defer close(v.finished)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(v.log, line)
			if m := ready.FindStringSubmatch(line); m != nil {
				found <- m
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case m := <-found:
		v.http, v.rtmp = m[1], m[2]
	case <-time.After(30 * time.Second):
		t.Fatalf("vitrine not ready:\n%s", v.log.String())
	}
	return v
}

func (v *vitrine) api(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+v.http+path, r)
	req.Header.Set("Authorization", "Bearer "+killTestToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		_ = json.Unmarshal(b, out)
	}
	if res.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return res.StatusCode
}

// TestRecordingSurvivesSIGKILL: the server is killed in the middle of a
// live; after a restart the recording up to the last synced fragment
// plays, the index matches the files, and, the campaign being still live,
// the recording stays open (state recording, an EVENT playlist without an
// end: a VOD playlist must not change, and the live goes on): a new
// publish continues it, and the campaign's end finalises it. A second
// campaign, its publisher gone before the kill, is finalised by its end
// with no publish after the restart.
func TestRecordingSurvivesSIGKILL(t *testing.T) {
	testenv.RequireFFmpeg(t)
	data := filepath.Join(t.TempDir(), "data")
	v := startVitrine(t, data)

	type campaign struct {
		ID        string `json:"id"`
		StreamKey string `json:"stream_key"`
	}
	var c, d campaign
	for _, x := range []*campaign{&c, &d} {
		if v.api(t, "POST", "/api/v1/campaigns", map[string]any{"title": "Killed", "visibility": "suggested",
			"starts_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "ends_at": time.Now().Add(time.Hour).Format(time.RFC3339),
			"published": true, "go_live": true}, x) != 201 {
			t.Fatal("campaign not created")
		}
	}
	var rec struct {
		State    string  `json:"state"`
		Segments int     `json:"segments"`
		Sessions int     `json:"sessions"`
		Duration float64 `json:"duration"`
	}
	// d: a short live whose publisher has left when the server is killed.
	push := testenv.Push(t, testenv.DefaultSource(3), "rtmp://"+v.rtmp+"/live/"+d.StreamKey)
	if err, out := push.Wait(30 * time.Second); err != nil {
		t.Fatalf("publish d: %v\n%s\n%s", err, out, v.log.String())
	}
	push = testenv.Push(t, testenv.DefaultSource(60), "rtmp://"+v.rtmp+"/live/"+c.StreamKey)
	// Wait for some segments, then kill -9 in the middle of the live.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if v.api(t, "GET", "/api/v1/campaigns/"+c.ID+"/recording", nil, &rec) == 200 && rec.Segments >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no segments recorded:\n%s", v.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // in the middle of a fragment
	if err := v.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-v.finished
	push.Stop()
	_, _ = push.Wait(5 * time.Second)

	v = startVitrine(t, data)
	if !strings.Contains(v.log.String(), "recording recovered") {
		t.Errorf("no recovery logged:\n%s", v.log.String())
	}
	// Both campaigns are live: their recordings stay open.
	open := map[string][]byte{}
	for _, id := range []string{c.ID, d.ID} {
		if v.api(t, "GET", "/api/v1/campaigns/"+id+"/recording", nil, &rec) != 200 || rec.State != "recording" || rec.Segments < 2 {
			t.Fatalf("recording of a live campaign after the crash: %+v, want it open (recording)", rec)
		}
		index := "http://" + v.http + "/replay/" + id + "/index.m3u8"
		_, _, pl := httpGet(t, index)
		if !bytes.Contains(pl, []byte("#EXT-X-PLAYLIST-TYPE:EVENT")) || bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) {
			t.Fatalf("replay of a live campaign after the crash:\n%s\nwant an EVENT playlist without an end", pl)
		}
		checkIndexMatchesFiles(t, index, filepath.Join(data, "recordings", id))
		open[id] = pl
	}
	v.api(t, "GET", "/api/v1/campaigns/"+c.ID+"/recording", nil, &rec)
	index := "http://" + v.http + "/replay/" + c.ID + "/index.m3u8"
	frames := countFrames(t, index, "-live_start_index", "0", "-m3u8_hold_counters", "2")
	t.Logf("after SIGKILL: %+v, %d frames play", rec, frames)
	if want := int(rec.Duration * 30); frames < want-2 || frames > want+2 {
		t.Fatalf("%d frames play, the index says %.3f s", frames, rec.Duration)
	}

	// d ends with no publisher: its recording is finalised as it stood.
	if v.api(t, "POST", "/api/v1/campaigns/"+d.ID+"/end", nil, nil) != 200 {
		t.Fatal("end d")
	}
	waitReady := func(id string, sessions int) []byte {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for v.api(t, "GET", "/api/v1/campaigns/"+id+"/recording", nil, &rec) != 200 || rec.State != "ready" || rec.Sessions != sessions {
			if time.Now().After(deadline) {
				t.Fatalf("recording after the end: %+v\n%s", rec, v.log.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		index := "http://" + v.http + "/replay/" + id + "/index.m3u8"
		checkIndexMatchesFiles(t, index, filepath.Join(data, "recordings", id))
		_, _, pl := httpGet(t, index)
		if !bytes.Contains(pl, []byte("#EXT-X-PLAYLIST-TYPE:VOD")) || !bytes.HasSuffix(pl, []byte("#EXT-X-ENDLIST\n")) ||
			!sameSegmentsPrefix(open[id], pl) {
			t.Fatalf("replay after the end:\n%s\nwhile live it was\n%s", pl, open[id])
		}
		return pl
	}
	waitReady(d.ID, 1)

	// c is still live: a new publish continues its recording.
	push = testenv.Push(t, testenv.DefaultSource(4), "rtmp://"+v.rtmp+"/live/"+c.StreamKey)
	if err, out := push.Wait(30 * time.Second); err != nil {
		t.Fatalf("publish after restart: %v\n%s\n%s", err, out, v.log.String())
	}
	if _, _, pl := httpGet(t, index); !sameSegmentsPrefix(open[c.ID], pl) || bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) {
		t.Fatalf("replay during the second publish:\n%s\nbefore it\n%s", pl, open[c.ID])
	}
	if v.api(t, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, nil) != 200 {
		t.Fatal("end")
	}
	pl := waitReady(c.ID, 2)
	all := countFrames(t, index)
	if all < frames+4*30-2 || all > frames+4*30 {
		t.Fatalf("%d frames after the second session, %d before it\n%s\n%s", all, frames, pl, v.log.String())
	}
	if n := bytes.Count(pl, []byte("#EXT-X-DISCONTINUITY\n")); n != 1 {
		t.Fatalf("%d discontinuities:\n%s", n, pl)
	}
}

// sameSegmentsPrefix: the segments of playlist a are the first of b's.
func sameSegmentsPrefix(a, b []byte) bool {
	uris := func(pl []byte) []string {
		var out []string
		for _, l := range strings.Split(string(pl), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return out
	}
	ua, ub := uris(a), uris(b)
	return len(ua) > 0 && len(ua) <= len(ub) && slices.Equal(ua, ub[:len(ua)])
}

func httpGet(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// checkIndexMatchesFiles: every segment of the playlist is served whole
// (its indexed size is its file's size), and no file is left that the
// index does not name.
func checkIndexMatchesFiles(t *testing.T, index, dir string) {
	t.Helper()
	status, _, pl := httpGet(t, index)
	if status != 200 {
		t.Fatalf("replay playlist: %d %s", status, pl)
	}
	named := map[string]bool{}
	for _, line := range strings.Split(string(pl), "\n") {
		uri := line
		if m := regexp.MustCompile(`URI="([^"]+)"`).FindStringSubmatch(line); m != nil {
			uri = m[1]
		} else if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		status, h, b := httpGet(t, strings.TrimSuffix(index, "index.m3u8")+uri)
		sess, file, _ := strings.Cut(uri, "/")
		if file != "init.mp4" {
			n, _ := strconv.Atoi(strings.TrimSuffix(file, ".m4s"))
			file = fmt.Sprintf("%06d.m4s", n)
		}
		path := filepath.Join(dir, sess, file)
		fi, err := os.Stat(path)
		if status != 200 || err != nil || fi.Size() != int64(len(b)) || h.Get("Content-Length") != strconv.Itoa(len(b)) {
			t.Fatalf("%s: %d, %d bytes served, file %v %v", uri, status, len(b), fi, err)
		}
		named[path] = true
	}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !named[path] {
			t.Errorf("file %s is not in the index", path)
		}
		return nil
	})
}

// countFrames counts the video frames of input; opts come before it (an
// EVENT playlist: "-live_start_index", "0", "-m3u8_hold_counters", "2").
func countFrames(t *testing.T, input string, opts ...string) int {
	t.Helper()
	args := append([]string{"-v", "error"}, opts...)
	args = append(args, "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", input)
	out, err := exec.Command("ffprobe", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v %s", err, out)
	}
	// HLS inputs list the stream once per program too: the first line.
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("ffprobe: %s", out)
	}
	return n
}
