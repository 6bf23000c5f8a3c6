// Command vitrine-load drives many viewers against a running Vitrine and
// reports what they get and what the server spends (CPU, memory, frames
// dropped by slow readers, from its /metrics).
//
// LL-HLS viewers (-hls) report parts, bytes, errors and latency behind the
// live edge. WHEP viewers (-whep) are pion PeerConnections (recvonly video
// and audio) and report RTP packets and bytes, video frames (marker bits),
// packets lost (sequence gaps; "late" counts packets that arrived after a
// gap, reordered or retransmitted), errors and the time from the offer to
// the first video packet. Events-socket viewers (-ws) hold the campaign's
// WebSocket (GET /live/{id}/events), read the snapshot and the events and
// report events/s, errors and disconnects (a viewer resumes a second later
// with since=). With an admin -token the tool also pins and unpins a
// product of the campaign (-product, or its first) every -pin-every and
// reports the broadcast latency: from just before the POST/DELETE to each
// viewer receiving product.pinned/unpinned, on this machine's clock, and
// the requests' own time (the server answers once the event is durable
// and handed to its broadcast). The
// server's RSS growth since before the viewers joined, divided by the
// viewers connected, estimates its memory per connection. With
// -chat-every the tool also chats (over ten sockets of its own, in turn:
// the server limits each to one message a second) and reports each chat
// message's broadcast latency, from its sending to each viewer. On Linux
// the events-socket viewers are read by -ws-readers epoll loops rather
// than a goroutine each, so that the tool, on the same cores as the
// server, takes as little CPU as it can; with -ws-measure N only N of them,
// spread among the others, are timed, and the rest are read once a
// second (the server writes to every socket all the same). The waits
// between pins and between chats are drawn at random around their mean
// (-jitter), so that a run meets every phase between the two. All kinds
// join evenly over -ramp and can be combined:
//
//	vitrine-load -server http://localhost:8080 -stream demo -hls 200 -duration 60s
//	vitrine-load -server http://localhost:8080 -stream demo -hls 0 -whep 50 -ramp 5s -duration 20s -every 5s
//	vitrine-load -stream demo -hls 100 -whep 100
//	vitrine-load -stream cmp_… -hls 0 -ws 10000 -token $(cat data/admin.token) -chat-every 250ms -ramp 20s -duration 30s -every 10s
//
// WebRTC viewers need a stream without B-frames (e.g. x264 -bf 0).
//
// It imports events and internal helpers (the same WebSocket codec as the
// server, internal/wsproto).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	server := flag.String("server", "http://localhost:8080", "Vitrine's HTTP base URL")
	streamID := flag.String("stream", "demo", "stream (campaign) id to watch; \"new\" (with -token) makes a product and a published campaign gone live for the run")
	hlsViewers := flag.Int("hls", 100, "LL-HLS viewers")
	whepViewers := flag.Int("whep", 0, "WHEP (WebRTC) viewers")
	duration := flag.Duration("duration", 60*time.Second, "how long to measure after the ramp")
	ramp := flag.Duration("ramp", 10*time.Second, "time over which viewers join")
	wsViewers := flag.Int("ws", 0, "events WebSocket viewers")
	token := flag.String("token", "", "admin token: pin and unpin a product to measure the broadcast latency")
	pinEvery := flag.Duration("pin-every", 0, "time between two pin/unpin requests (with -token; default 1s)")
	product := flag.String("product", "", "product to pin (default: the campaign's first)")
	chatEvery := flag.Duration("chat-every", 0, "with -ws: send a chat message this often (over 10 sockets of its own, in turn) and report its broadcast latency")
	wsMeasure := flag.Int("ws-measure", 0, "with -ws: time this many of the viewers, spread among them, and read the others' sockets once a second (0: time all); the tool's reads then take less of the CPU the server needs")
	wsReaderLoops := flag.Int("ws-readers", runtime.GOMAXPROCS(0), "with -ws: epoll loops that read the viewers' sockets (Linux); 0 gives each viewer a goroutine")
	jitter := flag.Float64("jitter", 0.5, "spread of the waits between pins and between chats: each is drawn from the mean ±jitter·mean (0: a fixed period)")
	every := flag.Duration("every", 5*time.Second, "report interval")
	flag.Parse()
	if *hlsViewers < 0 || *whepViewers < 0 || *wsViewers < 0 || *hlsViewers+*whepViewers+*wsViewers < 1 ||
		*duration <= 0 || *ramp < 0 || *every <= 0 || *pinEvery < 0 || *chatEvery < 0 || !(*jitter >= 0 && *jitter < 1) || *wsReaderLoops < 0 || *wsMeasure < 0 || *wsMeasure > *wsViewers {
		fmt.Fprintln(os.Stderr, "vitrine-load: -hls, -whep and -ws must be >= 0 with at least one > 0, -duration and -every > 0, -ramp, -pin-every, -chat-every and -ws-readers >= 0, -jitter in [0, 1), -ws-measure between 0 and -ws")
		os.Exit(2)
	}
	if *token == "" && (*pinEvery > 0 || *product != "") {
		fmt.Fprintln(os.Stderr, "vitrine-load: -pin-every and -product need -token")
		os.Exit(2)
	}
	if *token != "" && *pinEvery == 0 {
		*pinEvery = time.Second
	}
	// Every viewer holds a socket or more (a WHEP one a few); a viewer past
	// the limit fails with "too many open files".
	if limit, err := raiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "vitrine-load: open-file limit:", err)
	} else if need := uint64(*hlsViewers+*wsViewers+4**whepViewers) + 64; limit > 0 && limit < need {
		fmt.Fprintf(os.Stderr, "vitrine-load: the open-file limit is %d, too low for these viewers (about %d): raise the hard limit (ulimit -Hn, LimitNOFILE)\n", limit, need)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *streamID == "new" {
		if *token == "" {
			fmt.Fprintln(os.Stderr, "vitrine-load: -stream new needs -token")
			os.Exit(2)
		}
		id, err := newCampaign(ctx, *server, *token)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vitrine-load: new campaign:", err)
			os.Exit(1)
		}
		*streamID = id
		fmt.Printf("vitrine-load: campaign %s, live\n", id)
	}
	ctx, cancel := context.WithTimeout(ctx, *ramp+*duration)
	defer cancel()

	transport := &http.Transport{MaxIdleConnsPerHost: (*hlsViewers+*whepViewers)*2 + 4, MaxConnsPerHost: 0}
	httpClient := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	index := fmt.Sprintf("%s/live/%s/index.m3u8", *server, *streamID)
	endpoint := whepEndpoint(*server, *streamID)
	stats := newStats()
	wstats := &whepStats{}
	sstats := newWSStats()
	eventsURL := wsEventsURL(*server, *streamID)
	probe := &serverProbe{url: *server + "/metrics", http: httpClient}
	probe.sample() // the baseline, before any viewer joins

	var wg sync.WaitGroup
	// spawn starts n viewers, joining evenly over the ramp.
	spawn := func(n int, run func()) {
		for i := range n {
			delay := time.Duration(0)
			if n > 1 {
				delay = *ramp * time.Duration(i) / time.Duration(n-1)
			}
			wg.Go(func() {
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return
				}
				run()
			})
		}
	}
	spawn(*hlsViewers, func() { runHLSViewer(ctx, httpClient, index, stats) })
	if *whepViewers > 0 {
		api, err := newWHEPAPI()
		if err != nil {
			fmt.Fprintln(os.Stderr, "vitrine-load:", err)
			os.Exit(1)
		}
		spawn(*whepViewers, func() { runWHEPViewer(ctx, api, httpClient, endpoint, wstats) })
	}
	var readers *wsReaders
	if *wsViewers > 0 && *wsReaderLoops > 0 {
		r, err := newWSReaders(ctx, *wsReaderLoops, sstats)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vitrine-load:", err)
			os.Exit(1)
		}
		readers = r
	}
	var joined atomic.Int64
	spawn(*wsViewers, func() {
		// Every n/measure-th viewer is timed (all without -ws-measure).
		i, n, m := joined.Add(1)-1, int64(*wsViewers), int64(*wsMeasure)
		runWSViewer(ctx, eventsURL, sstats, readers, m == 0 || readers == nil || i*m/n < (i+1)*m/n)
	})
	if *token != "" {
		p, err := newPinner(ctx, httpClient, *server, *streamID, *token, *product, sstats)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vitrine-load:", err)
			os.Exit(1)
		}
		wg.Go(func() { p.run(ctx, *pinEvery, *jitter) })
	}
	if *chatEvery > 0 {
		wg.Go(func() { runChatter(ctx, eventsURL, *chatEvery, *jitter, sstats) })
	}

	var what string
	if *hlsViewers > 0 {
		what = fmt.Sprintf("%d LL-HLS viewers on %s", *hlsViewers, index)
	}
	if *whepViewers > 0 {
		if what != "" {
			what += ", "
		}
		what += fmt.Sprintf("%d WHEP viewers on %s", *whepViewers, endpoint)
	}
	if *wsViewers > 0 {
		if what != "" {
			what += ", "
		}
		what += fmt.Sprintf("%d WebSocket viewers on %s", *wsViewers, eventsURL)
	}
	if *token != "" {
		what += fmt.Sprintf(", pin/unpin every %v", *pinEvery)
		if *jitter > 0 {
			what += fmt.Sprintf(" ±%.0f%%", *jitter*100)
		}
	}
	if *chatEvery > 0 {
		what += fmt.Sprintf(", chat every %v", *chatEvery)
		if *jitter > 0 {
			what += fmt.Sprintf(" ±%.0f%%", *jitter*100)
		}
	}
	fmt.Printf("vitrine-load: %s, ramp %v, measure %v\n", what, *ramp, *duration)
	line := func(r report, w whepReport, ws wsReport, over time.Duration) string {
		var s string
		if *hlsViewers > 0 {
			s = "HLS " + r.String(over)
		}
		if *whepViewers > 0 {
			if s != "" {
				s += " | "
			}
			s += "WHEP " + w.String(over)
		}
		if *wsViewers > 0 || *token != "" || *chatEvery > 0 {
			if s != "" {
				s += " | "
			}
			s += "WS " + ws.String(over, *token != "", *chatEvery > 0)
		}
		return s
	}

	start := time.Now()
	ticker := time.NewTicker(*every)
	defer ticker.Stop()
	var total report
	var wtotal whepReport
	var stotal wsReport
	lastPerConn := "" // at the last full interval: at the end viewers are leaving
	var measured time.Duration
	last := start
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-ticker.C:
		}
		now := time.Now()
		r, w, ws := stats.take(), wstats.take(), sstats.take()
		srv := probe.sample()
		perConn := probe.perConn(r.viewers + w.viewers + ws.viewers)
		srv += perConn
		if !done {
			lastPerConn = perConn
		}
		// The end often falls just after a tick: a sliver of an interval
		// gives meaningless rates, so it only counts in the total.
		if !done || now.Sub(last) >= *every/10 {
			fmt.Printf("%6.0fs %s | %s\n", now.Sub(start).Seconds(), line(r, w, ws, now.Sub(last)), srv)
		}
		if last.Sub(start) >= *ramp {
			total.merge(r)
			wtotal.merge(w)
			stotal.merge(ws)
			measured += now.Sub(last)
		} else {
			probe.restart()
		}
		last = now
	}
	wg.Wait()
	fmt.Printf("after the ramp (%v): %s | %s\n", measured.Round(time.Second), line(total, wtotal, stotal, measured), probe.summary()+lastPerConn)
}
