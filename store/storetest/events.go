package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"vitrine/store"
)

// testEvents: append assigns 1, 2, 3... per campaign; list pages after a
// seq; data comes back byte for byte; unknown campaigns; delete cascades.
func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createCampaign(t, s, newCampaign("A", base, base.Add(time.Hour)))
	b := createCampaign(t, s, newCampaign("B", base, base.Add(time.Hour)))

	if n, err := s.LastEventSeq(ctx, a.ID); err != nil || n != 0 {
		t.Fatalf("LastEventSeq of an empty log = %d, %v; want 0", n, err)
	}
	// Keys out of order and spaces: a jsonb column would rewrite them.
	data := []byte(`{"z": 1, "a": "x"}`)
	for i := 1; i <= 5; i++ {
		seq, err := s.AppendEvent(ctx, a.ID, "chat.message", base.Add(time.Duration(i)*time.Second), data)
		must(t, err)
		if seq != int64(i) {
			t.Fatalf("append %d to A: seq %d", i, seq)
		}
	}
	seq, err := s.AppendEvent(ctx, b.ID, "product.pinned", base, []byte(`{}`))
	must(t, err)
	if seq != 1 {
		t.Fatalf("first append to B: seq %d, want 1 (sequences are per campaign)", seq)
	}
	if n, err := s.LastEventSeq(ctx, a.ID); err != nil || n != 5 {
		t.Fatalf("LastEventSeq = %d, %v; want 5", n, err)
	}

	all, err := s.ListEvents(ctx, a.ID, 0, 0)
	must(t, err)
	if len(all) != 5 {
		t.Fatalf("%d events, want 5", len(all))
	}
	for i, e := range all {
		want := store.Event{CampaignID: a.ID, Seq: int64(i + 1), Type: "chat.message",
			At: norm(base.Add(time.Duration(i+1) * time.Second)), Data: json.RawMessage(data)}
		equal(t, fmt.Sprintf("event %d", i+1), e, want)
	}
	page, err := s.ListEvents(ctx, a.ID, 2, 2)
	must(t, err)
	if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Fatalf("after 2, limit 2: %+v", page)
	}
	if page, err := s.ListEvents(ctx, a.ID, 5, 10); err != nil || len(page) != 0 || page == nil {
		t.Fatalf("after the last: %v, %v; want an empty, non-nil list", page, err)
	}
	if page, err := s.ListEvents(ctx, "cmp_nope", 0, 10); err != nil || len(page) != 0 {
		t.Fatalf("unknown campaign: %v, %v; want no events", page, err)
	}

	_, err = s.AppendEvent(ctx, "cmp_nope", "chat.message", base, data)
	isErr(t, err, store.ErrNotFound, "cmp_nope")
	if _, err := s.AppendEvent(ctx, a.ID, "chat.message", base, []byte(`{"broken"`)); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	if _, err := s.AppendEvent(ctx, a.ID, "", base, data); err == nil {
		t.Fatal("empty type accepted")
	}
	// The refused appends used no number.
	seq, err = s.AppendEvent(ctx, a.ID, "like.count", base, []byte(`{"count":1}`))
	must(t, err)
	if seq != 6 {
		t.Fatalf("append after refused ones: seq %d, want 6", seq)
	}

	deleteCampaign(t, s, a.ID)
	if page, err := s.ListEvents(ctx, a.ID, 0, 0); err != nil || len(page) != 0 {
		t.Fatalf("after delete: %d events, %v; want none", len(page), err)
	}
	if n, err := s.LastEventSeq(ctx, a.ID); err != nil || n != 0 {
		t.Fatalf("LastEventSeq after delete = %d, %v; want 0", n, err)
	}
	if page, err := s.ListEvents(ctx, b.ID, 0, 0); err != nil || len(page) != 1 {
		t.Fatalf("B after deleting A: %d events, %v; want 1", len(page), err)
	}
}

// testEventsConcurrent: 8 writers appending to one campaign at once (on
// PostgreSQL, over several pool connections) get 1..N, each once.
func testEventsConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("C", base, base.Add(time.Hour)))
	const writers, each = 8, 25
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[int64]string{}
		errs = make(chan error, writers*each)
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
				seq, err := s.AppendEvent(ctx, c.ID, "chat.message", time.Now(), []byte(body))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := seqs[seq]; dup {
					errs <- fmt.Errorf("seq %d given to %s and %s", seq, prev, body)
				}
				seqs[seq] = body
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	const total = writers * each
	for i := int64(1); i <= total; i++ {
		if _, ok := seqs[i]; !ok {
			t.Fatalf("seq %d never returned (gap)", i)
		}
	}
	var all []store.Event
	for after := int64(0); ; {
		page, err := s.ListEvents(ctx, c.ID, after, 64)
		must(t, err)
		all = append(all, page...)
		if len(page) < 64 {
			break
		}
		after = page[len(page)-1].Seq
	}
	if len(all) != total {
		t.Fatalf("%d events listed, want %d", len(all), total)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) || string(e.Data) != seqs[e.Seq] {
			t.Fatalf("event %d: seq %d data %s, want seq %d data %s", i, e.Seq, e.Data, i+1, seqs[int64(i+1)])
		}
	}
}
