// Command vitrine-load drives many viewers against a running Vitrine and
// reports what they get and what the server spends (CPU, memory, frames
// dropped by slow readers, from its /metrics).
//
// LL-HLS viewers (-hls) report parts, bytes, errors and latency behind the
// live edge. WHEP viewers (-whep) are pion PeerConnections (recvonly video
// and audio) and report RTP packets and bytes, video frames (marker bits),
// packets lost (sequence gaps; "late" counts packets that arrived after a
// gap, reordered or retransmitted), errors and the time from the offer to
// the first video packet. Both kinds join evenly over -ramp and can be
// combined:
//
//	vitrine-load -server http://localhost:8080 -stream demo -hls 200 -duration 60s
//	vitrine-load -server http://localhost:8080 -stream demo -hls 0 -whep 50 -ramp 5s -duration 20s -every 5s
//	vitrine-load -stream demo -hls 100 -whep 100
//
// WebRTC viewers need a stream without B-frames (e.g. x264 -bf 0).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"
)

func main() {
	server := flag.String("server", "http://localhost:8080", "Vitrine's HTTP base URL")
	streamID := flag.String("stream", "demo", "stream (campaign) id to watch")
	hlsViewers := flag.Int("hls", 100, "LL-HLS viewers")
	whepViewers := flag.Int("whep", 0, "WHEP (WebRTC) viewers")
	duration := flag.Duration("duration", 60*time.Second, "how long to measure after the ramp")
	ramp := flag.Duration("ramp", 10*time.Second, "time over which viewers join")
	every := flag.Duration("every", 5*time.Second, "report interval")
	flag.Parse()
	if *hlsViewers < 0 || *whepViewers < 0 || *hlsViewers+*whepViewers < 1 ||
		*duration <= 0 || *ramp < 0 || *every <= 0 {
		fmt.Fprintln(os.Stderr, "vitrine-load: -hls and -whep must be >= 0 with at least one > 0, -duration and -every > 0, -ramp >= 0")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *ramp+*duration)
	defer cancel()

	transport := &http.Transport{MaxIdleConnsPerHost: (*hlsViewers + *whepViewers) * 2, MaxConnsPerHost: 0}
	httpClient := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	index := fmt.Sprintf("%s/live/%s/index.m3u8", *server, *streamID)
	endpoint := whepEndpoint(*server, *streamID)
	stats := newStats()
	wstats := &whepStats{}
	probe := &serverProbe{url: *server + "/metrics", http: httpClient}

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
	fmt.Printf("vitrine-load: %s, ramp %v, measure %v\n", what, *ramp, *duration)
	line := func(r report, w whepReport, over time.Duration) string {
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
		return s
	}

	start := time.Now()
	ticker := time.NewTicker(*every)
	defer ticker.Stop()
	probe.sample()
	var total report
	var wtotal whepReport
	var measured time.Duration
	last := start
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-ticker.C:
		}
		now := time.Now()
		r, w := stats.take(), wstats.take()
		srv := probe.sample()
		// The end often falls just after a tick: a sliver of an interval
		// gives meaningless rates, so it only counts in the total.
		if !done || now.Sub(last) >= *every/10 {
			fmt.Printf("%6.0fs %s | %s\n", now.Sub(start).Seconds(), line(r, w, now.Sub(last)), srv)
		}
		if last.Sub(start) >= *ramp {
			total.merge(r)
			wtotal.merge(w)
			measured += now.Sub(last)
		} else {
			probe.restart()
		}
		last = now
	}
	wg.Wait()
	fmt.Printf("after the ramp (%v): %s | %s\n", measured.Round(time.Second), line(total, wtotal, measured), probe.summary())
}
