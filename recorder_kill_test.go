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
// plays, the index matches the files, and a new publish continues the
// campaign's recording.
func TestRecordingSurvivesSIGKILL(t *testing.T) {
	testenv.RequireFFmpeg(t)
	data := filepath.Join(t.TempDir(), "data")
	v := startVitrine(t, data)

	var c struct {
		ID        string `json:"id"`
		StreamKey string `json:"stream_key"`
	}
	if v.api(t, "POST", "/api/v1/campaigns", map[string]any{"title": "Killed", "visibility": "suggested",
		"starts_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "ends_at": time.Now().Add(time.Hour).Format(time.RFC3339),
		"go_live": true}, &c) != 201 {
		t.Fatal("campaign not created")
	}
	push := testenv.Push(t, testenv.DefaultSource(60), "rtmp://"+v.rtmp+"/live/"+c.StreamKey)
	// Wait for some segments, then kill -9 in the middle of the live.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var rec struct{ Segments int }
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
	var rec struct {
		State    string  `json:"state"`
		Segments int     `json:"segments"`
		Sessions int     `json:"sessions"`
		Duration float64 `json:"duration"`
	}
	if v.api(t, "GET", "/api/v1/campaigns/"+c.ID+"/recording", nil, &rec) != 200 || rec.State != "ready" || rec.Segments < 6 {
		t.Fatalf("recording after the crash: %+v", rec)
	}
	index := "http://" + v.http + "/replay/" + c.ID + "/index.m3u8"
	checkIndexMatchesFiles(t, index, filepath.Join(data, "recordings", c.ID))
	frames := countFrames(t, index)
	t.Logf("after SIGKILL: %+v, %d frames play", rec, frames)
	if want := int(rec.Duration * 30); frames < want-2 || frames > want+2 {
		t.Fatalf("%d frames play, the index says %.3f s", frames, rec.Duration)
	}

	// The campaign is still live: a new publish continues its recording.
	push = testenv.Push(t, testenv.DefaultSource(4), "rtmp://"+v.rtmp+"/live/"+c.StreamKey)
	if err, out := push.Wait(30 * time.Second); err != nil {
		t.Fatalf("publish after restart: %v\n%s\n%s", err, out, v.log.String())
	}
	if v.api(t, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, nil) != 200 {
		t.Fatal("end")
	}
	deadline = time.Now().Add(20 * time.Second)
	for v.api(t, "GET", "/api/v1/campaigns/"+c.ID+"/recording", nil, &rec) != 200 || rec.State != "ready" || rec.Sessions != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("recording after the second publish: %+v", rec)
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkIndexMatchesFiles(t, index, filepath.Join(data, "recordings", c.ID))
	all := countFrames(t, index)
	if all < frames+4*30-2 || all > frames+4*30 {
		_, _, pl := httpGet(t, index)
		t.Fatalf("%d frames after the second session, %d before it\n%s\n%s", all, frames, pl, v.log.String())
	}
	_, _, pl := httpGet(t, index)
	if n := bytes.Count(pl, []byte("#EXT-X-DISCONTINUITY\n")); n != 1 {
		t.Fatalf("%d discontinuities:\n%s", n, pl)
	}
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

func countFrames(t *testing.T, input string) int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", input).CombinedOutput()
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
