package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"vitrine/internal/testenv"
)

// rawStatus sends one request on a connection of its own and returns the
// answer's status without reading its body (a 101 keeps the socket).
func rawStatus(t *testing.T, addr, method, path string, header map[string]string, body string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, addr, len(body))
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res.StatusCode
}

// rtspStatus sends an RTSP DESCRIBE and returns the answer's status.
func rtspStatus(t *testing.T, addr, path string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "DESCRIBE rtsp://%s%s RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n", addr, path)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("DESCRIBE %s: %v", path, err)
	}
	var code int
	if _, err := fmt.Sscanf(line, "RTSP/1.0 %d", &code); err != nil {
		t.Fatalf("DESCRIBE %s: %q", path, line)
	}
	return code
}

// TestViewerRule walks every viewer-facing route and protocol for a
// campaign in each state: a draft (unpublished) answers 404 everywhere,
// as an unknown id does, though it is live for its host, who previews it
// with the admin token; published, it plays; ended, its replay plays and
// its live is gone; reset, its replay is gone.
func TestViewerRule(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	addr := s.HTTPAddr().String()
	rtspAddr := s.RTSPAddr().String()

	// A draft live for its host, and a published live.
	live := func(title string, published bool) campaignView {
		var c campaignView
		admin.must(201, "POST", "/api/v1/campaigns", map[string]any{
			"title": title, "visibility": "suggested", "published": published,
			"starts_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "ends_at": time.Now().Add(2 * time.Hour).Format(time.RFC3339),
		}, &c)
		admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil, &c)
		testenv.Push(t, testenv.DefaultSource(60), s.rtmpURL(c.StreamKey))
		return c
	}
	draft, c := live("Draft show", false), live("Public show", true)
	// The host's preview: the admin token plays the draft.
	bearer := "Bearer " + admin.token
	for _, id := range []string{draft.ID, c.ID} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			status, _, _ := get(t, "http://"+addr+"/live/"+id+"/index.m3u8", "Authorization", bearer)
			if status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the host's preview of %s: %d", id, status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	ws := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	routes := []struct {
		name   string
		status func(id string) int
		// want is the status in each state: unpublished, published, ended, reset.
		want [4]int
	}{
		{"LL-HLS playlist", func(id string) int { return rawStatus(t, addr, "GET", "/live/"+id+"/index.m3u8", nil, "") }, [4]int{404, 200, 404, 404}},
		{"WHEP offer (not SDP)", func(id string) int {
			return rawStatus(t, addr, "POST", "/live/"+id+"/whep", map[string]string{"Content-Type": "application/sdp"}, "v=0")
		}, [4]int{404, 400, 404, 404}},
		{"events socket", func(id string) int { return rawStatus(t, addr, "GET", "/live/"+id+"/events", ws, "") }, [4]int{404, 101, 101, 101}},
		{"info", func(id string) int { return rawStatus(t, addr, "GET", "/live/"+id+"/info", nil, "") }, [4]int{404, 200, 200, 200}},
		{"calendar", func(id string) int { return rawStatus(t, addr, "GET", "/live/"+id+"/calendar.ics", nil, "") }, [4]int{404, 200, 200, 200}},
		{"player page", func(id string) int { return rawStatus(t, addr, "GET", "/watch/"+id, nil, "") }, [4]int{404, 200, 200, 200}},
		{"replay playlist", func(id string) int { return rawStatus(t, addr, "GET", "/replay/"+id+"/index.m3u8", nil, "") }, [4]int{404, 200, 200, 404}},
		{"replay events", func(id string) int { return rawStatus(t, addr, "GET", "/replay/"+id+"/events", nil, "") }, [4]int{404, 200, 200, 404}},
		{"RTSP DESCRIBE", func(id string) int { return rtspStatus(t, rtspAddr, "/live/"+id) }, [4]int{404, 200, 404, 404}},
	}
	check := func(state int, name, id string) {
		t.Helper()
		for _, r := range routes {
			want := r.want[state]
			var got int
			// The rule's answers are kept 2 s; a live's end takes a moment.
			for end := time.Now().Add(8 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				if got = r.status(id); got == want || time.Now().After(end) {
					break
				}
			}
			if got != want {
				t.Errorf("%s, %s: %d, want %d", name, r.name, got, want)
			}
		}
	}
	check(0, "unpublished", draft.ID)
	// Its recording has a playlist once its first segment is written (a
	// second or so into the live; longer on a loaded machine).
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		status, _, _ := get(t, "http://"+addr+"/replay/"+draft.ID+"/index.m3u8", "Authorization", bearer)
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the host's preview of its draft's recording: %d", status)
			break
		}
	}
	if status, _, _ := get(t, "http://"+addr+"/live/"+draft.ID+"/index.m3u8", "Authorization", "Bearer not-the-token"); status != 404 {
		t.Errorf("a wrong token on a draft: %d, want 404", status)
	}
	check(1, "published", c.ID)

	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, &c)
	admin.waitRecording(c.ID, "ready", 30*time.Second)
	check(2, "ended", c.ID)

	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/reset", map[string]any{"confirm": c.ID}, &c)
	check(3, "reset", c.ID)
}
