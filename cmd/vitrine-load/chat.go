package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// chatPrefix marks the tool's chat messages; the rest of the text is when
// the message was sent (unix nanoseconds, this machine's clock).
const chatPrefix = "vitrine-load "

// chatSends are the sockets that chat, in turn: the server lets each
// connection send one message a second (bursts of five).
const chatSends = 10

// runChatter sends a chat message every interval on average (pace) until ctx ends, over
// chatSends sockets of its own taken in turn; each viewer that receives one
// reports its broadcast latency.
func runChatter(ctx context.Context, eventsURL string, every time.Duration, jitter float64, st *wsStats) {
	var conns []*wsViewerConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range chatSends {
		c, err := dialWSViewer(ctx, eventsURL)
		if err != nil {
			if ctx.Err() == nil {
				st.chatError(fmt.Errorf("chat socket: %w", err))
			}
			return
		}
		// Read what the server sends so that the socket stays healthy
		// (the latency is measured by the viewers); a refused message
		// comes back as an error.
		go func() {
			for {
				b, err := c.next()
				if err != nil {
					return
				}
				var h wsHeader
				if json.Unmarshal(b, &h) == nil && h.Type == "error" {
					st.chatError(fmt.Errorf("chat refused: %s", h.Data))
				}
			}
		}()
		conns = append(conns, c)
	}
	i := 0
	pace(ctx, every, jitter, func() bool {
		msg, _ := json.Marshal(map[string]any{"type": "chat.send", "data": map[string]any{
			"text": chatPrefix + strconv.FormatInt(time.Now().UnixNano(), 10), "name": "load"}})
		if err := conns[i%len(conns)].write(0x1, msg); err != nil {
			if ctx.Err() == nil {
				st.chatError(err)
			}
			return false
		}
		i++
		st.chatSent()
		return true
	})
}
