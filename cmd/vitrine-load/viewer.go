package main

import (
	"context"
	"net/http"
	"time"

	"vitrine/internal/hlsprobe"
)

// runHLSViewer behaves as a low-latency player: it waits for each new part
// with a blocking playlist reload, downloads it, and records how far behind
// the live edge (on the PROGRAM-DATE-TIME clock) the part arrived.
func runHLSViewer(ctx context.Context, hc *http.Client, index string, st *stats) {
	st.viewerJoined()
	defer st.viewerLeft()
	c := &hlsprobe.Client{HTTP: hc, Index: index}
	msn := -1
	part := 0
	for ctx.Err() == nil {
		m, err := c.Media(ctx, msn, part)
		if err != nil {
			if ctx.Err() == nil {
				st.error(err)
				sleep(ctx, time.Second) // offline or failing: retry as players do
				msn = -1
			}
			continue
		}
		uri := hlsprobe.LastPart(m)
		if msn >= 0 && uri != "" {
			n, err := c.Download(ctx, uri)
			switch {
			case err == nil:
				st.part(n, time.Since(hlsprobe.Edge(m)))
			case ctx.Err() == nil: // not our own end of test
				st.error(err)
			}
		}
		msn, part = hlsprobe.Next(m)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
