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

	"vitrine/internal/httperr"
)

// TestControlCharactersRefused: a NUL or another control character in a
// path or a query is a 404 or a 400 before any handler (PostgreSQL refuses
// a NUL in text: such an id reached the store as a 500), on the admin
// API, the viewer routes and the events socket alike.
func TestControlCharactersRefused(t *testing.T) {
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	for _, c := range []struct {
		path string
		want int
	}{
		{"/live/%00/info", http.StatusNotFound},
		{"/live/x%00/calendar.ics", http.StatusNotFound},
		{"/embed/products/%00", http.StatusNotFound},
		{"/live/%00/events", http.StatusNotFound},
		{"/watch/a%0Ab", http.StatusNotFound},
		{"/api/v1/campaigns/%00", http.StatusNotFound},
		{"/api/v1/products?q=%00zz", http.StatusBadRequest},
		{"/api/v1/campaigns?q=a&x%7F=1", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest("GET", admin.base+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+admin.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.want || !strings.Contains(string(b), `"code"`) {
			t.Errorf("GET %s: %d %s, want %d and a JSON error", c.path, res.StatusCode, b, c.want)
		}
	}
}

// TestSlowBodyCut: a client that announces a body and trickles it loses
// its connection once httperr.BodyTimeout has passed, instead of holding
// it (and a goroutine) for as long as it likes.
func TestSlowBodyCut(t *testing.T) {
	old := httperr.BodyTimeout
	httperr.BodyTimeout = 300 * time.Millisecond
	t.Cleanup(func() { httperr.BodyTimeout = old })
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	conn, err := net.Dial("tcp", s.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{", admin.token)
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("answered %d %s, want 400 or the connection closed", res.StatusCode, b)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still held the connection after 10 s")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("cut after %v", waited)
	}
}
