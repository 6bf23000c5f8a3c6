package stream

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkWrite measures the publisher's cost to hand one unit to N readers
// that drain concurrently. Units are shared, so the cost per reader is a lock
// and a slot in its ring, with no allocation.
func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) {
			h, _ := NewHub(Config{ReaderQueue: 1024, Logger: quiet})
			defer h.Close()
			p, _ := h.Publish("s", PublisherInfo{}, avTracks())
			s, _ := h.Get("s")
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range n {
				r, _ := s.AddReader("bench")
				wg.Go(func() { _ = r.Run(ctx, func(*Unit) error { return nil }) })
			}
			units := make([]*Unit, b.N)
			for i := range units {
				units[i] = frame(i, 60)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				p.Write(units[i])
			}
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}
