package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/internal/httperr"
)

// TestUnreadBodiesDoNotHoldConnections: requests that announce a body
// under net/http's post-handler drain limit (256 KiB) and never send it,
// or trickle it (a byte every 5 s, scaled with the body's deadline), to
// handlers that answer without reading it (a 401 of the admin API, a 404,
// /healthz, a tracking batch over its limit) or that read it (an
// authorised create), hold no connection:
// every one is closed well within 30 s, /healthz answers meanwhile, and
// descriptors and goroutines come back to where they were.
func TestUnreadBodiesDoNotHoldConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("600 connections for a few seconds")
	}
	old, oldGrace := httperr.BodyTimeout, unreadBodyGrace
	httperr.BodyTimeout = 3 * time.Second // 30 s in production
	// Longer than in production (500 ms), so that an answer sent only
	// once the grace has expired is told, even on a loaded machine, from
	// one sent at once.
	unreadBodyGrace = 1500 * time.Millisecond
	t.Cleanup(func() { httperr.BodyTimeout, unreadBodyGrace = old, oldGrace })
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	addr := s.HTTPAddr().String()

	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	healthz := func() (time.Duration, error) {
		start := time.Now()
		res, err := probe.Get("http://" + addr + "/healthz")
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return 0, fmt.Errorf("healthz: %d", res.StatusCode)
		}
		return time.Since(start), nil
	}
	if _, err := healthz(); err != nil {
		t.Fatal(err)
	}
	settle := func() (int, int) {
		runtime.GC()
		return runtime.NumGoroutine(), countFDs(t)
	}
	time.Sleep(200 * time.Millisecond)
	baseG, baseFD := settle()

	// Requests whose handler answers without reading the body, and one
	// whose handler reads it (an authorised create: only the body's
	// deadline cuts it; once the unauthorised ones have passed the
	// failed-authentication limit, this address gets 429s, unread, too).
	heads := []string{
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n",
		"POST /no/such/thing HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n",
		"POST /live/nope/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
		"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin.token +
			"\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n",
	}
	const idle, trickling = 300, 300
	// A byte every 5 s at the production timeout: the deadline bounds the
	// whole body, however steadily it comes.
	trickleEvery := httperr.BodyTimeout / 6
	type held struct {
		conn    net.Conn
		opened  time.Time
		heldFor time.Duration // set before done is closed
		status  int           // of the answer, if one came
		answer  time.Duration // when it came
		done    chan struct{} // the server closed the connection
	}
	conns := make([]*held, idle+trickling)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() {
		stopOnce.Do(func() { close(stop) })
		for _, h := range conns {
			if h != nil {
				h.conn.Close()
			}
		}
		wg.Wait()
	}
	defer halt()

	// /healthz every 50 ms from a fresh connection while the others are held.
	var lat []time.Duration
	var probeErr error
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			d, err := healthz()
			if err != nil {
				probeErr = err
				return
			}
			lat = append(lat, d)
		}
	}()

	start := time.Now()
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		h := &held{conn: c, opened: time.Now(), done: make(chan struct{})}
		conns[i] = h
		head := heads[i%len(heads)]
		if i >= idle {
			head += "{" // and a byte every trickleEvery after it
		}
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		wg.Add(1)
		go func() { // reads the answer, if any, until the server closes
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(40 * time.Second))
			br := bufio.NewReader(c)
			if res, err := http.ReadResponse(br, nil); err == nil {
				h.status, h.answer = res.StatusCode, time.Since(h.opened)
			}
			_, _ = io.Copy(io.Discard, br)
			h.heldFor = time.Since(h.opened)
			close(h.done)
		}()
		if i >= idle {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-h.done:
						return
					case <-time.After(trickleEvery):
					}
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}()
		}
	}
	t.Logf("%d connections opened in %v", len(conns), time.Since(start).Round(time.Millisecond))

	var longest time.Duration
	var open []int
	deadline := time.NewTimer(time.Until(start.Add(30 * time.Second)))
	defer deadline.Stop()
	expired := false
	for i, h := range conns {
		if !expired {
			select {
			case <-h.done:
			case <-deadline.C:
				expired = true
			}
		}
		select {
		case <-h.done:
			longest = max(longest, h.heldFor)
		default:
			open = append(open, i)
		}
	}
	if len(open) > 0 {
		kinds := map[string]int{}
		for _, i := range open {
			line, _, _ := strings.Cut(heads[i%len(heads)], "\r\n")
			if strings.Contains(heads[i%len(heads)], "Authorization") {
				line += " (authorised)"
			}
			kinds[line]++
		}
		t.Fatalf("%d of %d connections still held 30 s after they were opened: %v", len(open), len(conns), kinds)
	}
	allClosed := time.Since(start)
	// Handlers that do not read the body answer at once: not after a
	// drain, cut by the body's deadline or the grace after the handler.
	type kindStats struct {
		answered, n  int
		answer, held time.Duration
		codes        map[int]int
	}
	stats := make([]kindStats, len(heads))
	for i, h := range conns {
		k := &stats[i%len(heads)]
		k.n++
		k.held = max(k.held, h.heldFor)
		if h.status != 0 {
			if k.codes == nil {
				k.codes = map[int]int{}
			}
			k.codes[h.status]++
			k.answered++
			k.answer = max(k.answer, h.answer)
		}
	}
	for i, k := range stats {
		line, _, _ := strings.Cut(heads[i], "\r\n")
		authorised := strings.Contains(heads[i], "Authorization")
		t.Logf("%s (authorised %v): %d of %d answered %v, the last after %v; longest held %v", line, authorised,
			k.answered, k.n, k.codes, k.answer.Round(time.Millisecond), k.held.Round(time.Millisecond))
		if !authorised && (k.answered != k.n || k.answer >= unreadBodyGrace) {
			t.Errorf("%s: %d of %d answered, the last after %v: a handler that does not read the body waited for it",
				line, k.answered, k.n, k.answer)
		}
	}
	halt()
	<-probed
	if probeErr != nil {
		t.Fatalf("/healthz while the connections were held: %v", probeErr)
	}
	slices.Sort(lat)
	if len(lat) == 0 {
		t.Fatal("/healthz never probed")
	}
	p50, p95, worst := lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)-1]
	t.Logf("all %d closed %v after the first was opened (longest held %v); /healthz over %d probes: p50 %v, p95 %v, max %v",
		len(conns), allClosed.Round(time.Millisecond), longest.Round(time.Millisecond), len(lat),
		p50.Round(time.Microsecond), p95.Round(time.Microsecond), worst.Round(time.Microsecond))
	// 100 ms is the target; a loaded 2-core machine may pause one probe
	// now and then, so the bound is on the 95th percentile.
	if p95 > 100*time.Millisecond || worst > 2*time.Second {
		t.Errorf("/healthz slowed by the held connections: p95 %v, max %v", p95, worst)
	}

	var g, fd int
	for end := time.Now().Add(10 * time.Second); ; {
		if g, fd = settle(); g <= baseG+5 && fd <= baseFD+2 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("goroutines %d (baseline %d), sockets %d (baseline %d)", g, baseG, fd, baseFD)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("goroutines %d (baseline %d), sockets %d (baseline %d)", g, baseG, fd, baseFD)
}

// countFDs counts the process's sockets: what a held connection keeps.
// Files are left out: the store's connection pool opens the database's
// files on demand (a burst of authorised requests grows it by a
// connection, its database and journal files), which is no leak.
func countFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range es {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// TestReadBodyKeepsConnection: a body its handler read to its end leaves
// the connection alive for the next request; one it did not read closes
// it after the answer.
func TestReadBodyKeepsConnection(t *testing.T) {
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	conn, err := net.Dial("tcp", s.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	send := func(req string) *http.Response {
		t.Helper()
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	body := `{"name": 42}`
	res := send(fmt.Sprintf("POST /api/v1/products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", admin.token, len(body), body))
	if res.StatusCode < 400 || res.StatusCode >= 500 || res.Close {
		t.Fatalf("a read body: %d, close %v", res.StatusCode, res.Close)
	}
	if res = send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); res.StatusCode != 200 || res.Close {
		t.Fatalf("next request on the connection: %d, close %v", res.StatusCode, res.Close)
	}
	// Unauthorised: the body is not read, the answer says close and the
	// connection ends without the client sending the rest.
	res = send("POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	if res.StatusCode != http.StatusUnauthorized || !res.Close {
		t.Fatalf("an unread body: %d, close %v", res.StatusCode, res.Close)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the connection stays open after an unread body")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection stays open after an unread body")
	}
}
