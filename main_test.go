package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the vitrine command built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vitrine-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "vitrine")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestBinaryRunsWithDefaultsAndStopsOnSIGTERM runs the real binary as the
// README does, with only the data directory and ports moved aside.
func TestBinaryRunsWithDefaultsAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "VITRINE_DATA_DIR="+data,
		"VITRINE_HTTP_LISTEN=127.0.0.1:0", "VITRINE_RTMP_LISTEN=127.0.0.1:0", "VITRINE_RTSP_LISTEN=127.0.0.1:0",
		"VITRINE_RTSP_UDP_RTP=", "VITRINE_RTSP_UDP_RTCP=", "VITRINE_WEBRTC_ICE_LISTEN=127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	ready := regexp.MustCompile(`msg="vitrine ready".* http=(\S+)`)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var httpAddr string
	var log []string
	deadline := time.After(20 * time.Second)
	for httpAddr == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("vitrine exited before it was ready:\n%s", strings.Join(log, "\n"))
			}
			log = append(log, l)
			if m := ready.FindStringSubmatch(l); m != nil {
				httpAddr = m[1]
			}
		case <-deadline:
			t.Fatalf("not ready after 20 s:\n%s", strings.Join(log, "\n"))
		}
	}
	key, err := os.ReadFile(filepath.Join(data, "keys", "demo.key"))
	if err != nil || len(strings.TrimSpace(string(key))) < 16 {
		t.Fatalf("demo key not generated: %q %v", key, err)
	}
	if !strings.Contains(strings.Join(log, "\n"), strings.TrimSpace(string(key))) {
		t.Fatal("the generated key was not shown at first start")
	}
	res, err := http.Get("http://" + httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz: %d %q", res.StatusCode, body)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain until stderr closes
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

func TestBadConfigExitsWithClearMessage(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "VITRINE_HLS_PART_MIN_DURATION=fast", "VITRINE_DATA_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2", err)
	}
	if !strings.Contains(string(out), "VITRINE_HLS_PART_MIN_DURATION") || !strings.Contains(string(out), "not a duration") {
		t.Fatalf("message does not say what is wrong: %s", out)
	}
}
