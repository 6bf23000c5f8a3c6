// Command vitrine-load drives many LL-HLS viewers against a running Vitrine
// and reports what they get (parts, bytes, errors, latency behind the live
// edge) and what the server spends (CPU, memory, frames dropped by slow
// readers, from its /metrics).
//
//	vitrine-load -server http://localhost:8080 -stream demo -hls 200 -duration 60s
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
	duration := flag.Duration("duration", 60*time.Second, "how long to measure after the ramp")
	ramp := flag.Duration("ramp", 10*time.Second, "time over which viewers join")
	every := flag.Duration("every", 5*time.Second, "report interval")
	flag.Parse()
	if *hlsViewers < 1 || *duration <= 0 || *ramp < 0 || *every <= 0 {
		fmt.Fprintln(os.Stderr, "vitrine-load: -hls must be >= 1, -duration and -every > 0, -ramp >= 0")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *ramp+*duration)
	defer cancel()

	transport := &http.Transport{MaxIdleConnsPerHost: *hlsViewers * 2, MaxConnsPerHost: 0}
	httpClient := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	index := fmt.Sprintf("%s/live/%s/index.m3u8", *server, *streamID)
	stats := newStats()
	probe := &serverProbe{url: *server + "/metrics", http: httpClient}

	var wg sync.WaitGroup
	for i := range *hlsViewers {
		delay := time.Duration(0)
		if *hlsViewers > 1 {
			delay = *ramp * time.Duration(i) / time.Duration(*hlsViewers-1)
		}
		wg.Go(func() {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			runHLSViewer(ctx, httpClient, index, stats)
		})
	}

	fmt.Printf("vitrine-load: %d LL-HLS viewers on %s, ramp %v, measure %v\n", *hlsViewers, index, *ramp, *duration)
	start := time.Now()
	ticker := time.NewTicker(*every)
	defer ticker.Stop()
	probe.sample()
	var total report
	var measured time.Duration
	last := start
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-ticker.C:
		}
		now := time.Now()
		r := stats.take()
		srv := probe.sample()
		fmt.Printf("%6.0fs %s | %s\n", now.Sub(start).Seconds(), r.String(now.Sub(last)), srv)
		if last.Sub(start) >= *ramp {
			total.merge(r)
			measured += now.Sub(last)
		} else {
			probe.restart()
		}
		last = now
	}
	wg.Wait()
	fmt.Printf("after the ramp (%v): %s | %s\n", measured.Round(time.Second), total.String(measured), probe.summary())
}
