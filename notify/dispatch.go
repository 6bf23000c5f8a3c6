package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"vitrine/store"
)

const (
	// maxErrorLen bounds LastError: receivers can answer with whole HTML
	// pages, and the record is for a human skimming a list.
	maxErrorLen = 512
	// maxDrain is how much of a response is read so the connection can be
	// reused; past it the connection is dropped instead.
	maxDrain = 64 << 10
	// recordTimeout bounds a store write of an attempt's outcome, which
	// runs even while shutting down so the attempt is not lost.
	recordTimeout = 5 * time.Second
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = time.Hour
)

// dispatcher is Run's state: which deliveries are being attempted, so the
// next poll (which still sees them pending and due) does not start them
// twice, and which are held back after their outcome could not be stored.
type dispatcher struct {
	n    *Notifier
	sem  chan struct{} // one token per attempt in flight
	wg   sync.WaitGroup
	mu   sync.Mutex
	busy map[string]time.Time // zero: in flight; else: finished, skip until then
}

// Run delivers the outbox and sends the "starting soon" notifications
// until ctx is done. Then it waits up to DrainTimeout for attempts in
// flight, cancels the rest (they stay pending and are retried by the next
// Run) and returns nil. Only one Run per Notifier at a time.
//
// Several nodes must not each run a dispatcher on one PostgreSQL store yet:
// the store cannot claim a delivery, so they would send duplicates.
func (n *Notifier) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("notify: Run is already running")
	}
	defer n.running.Store(false)

	// Attempts get their own context so that ctx ending does not cut a
	// request half-way: DrainTimeout decides when to give up on them.
	attemptCtx, cancelAttempts := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAttempts()
	d := &dispatcher{
		n:    n,
		sem:  make(chan struct{}, n.cfg.Concurrency),
		busy: make(map[string]time.Time),
	}
	d.wg.Go(func() { n.runScheduler(ctx) })

	tick := time.NewTicker(n.cfg.PollInterval)
	defer tick.Stop()
	n.log.Info("dispatcher started", "concurrency", n.cfg.Concurrency, "allow_private", n.cfg.AllowPrivate)
	for {
		d.dispatchDue(ctx, attemptCtx)
		select {
		case <-ctx.Done():
			d.drain(cancelAttempts)
			n.log.Info("dispatcher stopped")
			return nil
		case <-n.wake:
		case <-tick.C:
		}
	}
}

// drain waits for the attempts (and the scheduler) to finish, cancelling
// the attempts after DrainTimeout.
func (d *dispatcher) drain(cancelAttempts context.CancelFunc) {
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	t := time.NewTimer(d.n.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		d.n.log.Warn("cancelling attempts still in flight", "after", d.n.cfg.DrainTimeout)
		cancelAttempts()
		<-done
	}
}

// dispatchDue starts an attempt for each due delivery, as long as slots
// are free. A finished attempt wakes the loop, so a backlog larger than
// one batch drains without waiting for the poll interval.
func (d *dispatcher) dispatchDue(ctx, attemptCtx context.Context) {
	free := cap(d.sem) - len(d.sem)
	if free == 0 || ctx.Err() != nil {
		return
	}
	now := d.n.cfg.Now()
	d.mu.Lock()
	// Forget finished attempts before querying: their outcome is stored,
	// so the batch below reflects it.
	for id, until := range d.busy {
		if !until.IsZero() && !now.Before(until) {
			delete(d.busy, id)
		}
	}
	// Deliveries in flight are still pending and due, so they come back in
	// the batch: ask for enough to fill every free slot regardless.
	limit := free + len(d.busy)
	d.mu.Unlock()

	due, err := d.n.st.DueDeliveries(ctx, now, limit)
	if err != nil {
		if ctx.Err() == nil {
			d.n.log.Error("list due deliveries", "error", err)
		}
		return
	}
	for _, dl := range due {
		d.mu.Lock()
		_, skip := d.busy[dl.ID]
		if !skip {
			select {
			case d.sem <- struct{}{}:
				d.busy[dl.ID] = time.Time{}
			default:
				d.mu.Unlock()
				return // no slot left; a finishing attempt wakes us
			}
		}
		d.mu.Unlock()
		if skip {
			continue
		}
		d.wg.Go(func() {
			hold := d.n.attempt(attemptCtx, &dl)
			// Not deleted but expired: a DueDeliveries batch read before
			// the outcome was stored may still list this delivery, and only
			// the next dispatchDue, which queries afresh, may forget it.
			d.mu.Lock()
			d.busy[dl.ID] = d.n.cfg.Now().Add(hold)
			d.mu.Unlock()
			<-d.sem
			d.n.Wake()
		})
	}
}

// outcome is what one attempt learned.
type outcome struct {
	status     int           // HTTP status, 0 if no response
	err        string        // for LastError; "" on success
	retryAfter time.Duration // the receiver's Retry-After, if any
}

// attempt sends one delivery and records the outcome. It returns how long
// the dispatcher should leave the delivery alone when the outcome could
// not be stored (otherwise it stays due and would be re-sent in a loop).
func (n *Notifier) attempt(ctx context.Context, d *store.Delivery) (hold time.Duration) {
	log := n.log.With("delivery", d.ID, "webhook", d.WebhookID, "type", d.Type)
	wh, err := n.st.GetWebhook(ctx, d.WebhookID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The subscription was removed after the event: nobody to tell.
		d.Status = store.DeliveryFailed
		d.LastError = "webhook deleted"
		return n.record(ctx, log, d)
	case err != nil:
		if ctx.Err() == nil {
			log.Error("load webhook", "error", err)
		}
		return n.cfg.PollInterval * 10
	}

	out := n.send(ctx, wh, d)
	if out.status == 0 && ctx.Err() != nil {
		// Cancelled by shutdown, not failed: leave it pending, untouched.
		log.Info("attempt abandoned at shutdown; will retry")
		return 0
	}
	now := n.cfg.Now()
	d.Attempts++
	d.LastStatus = out.status
	d.LastError = out.err
	switch {
	case out.status >= 200 && out.status < 300:
		d.Status = store.DeliveryDelivered
		d.DeliveredAt = &now
		log.Debug("delivered", "attempts", d.Attempts, "status", out.status)
	case out.status == http.StatusGone:
		// The spec's signal that the endpoint wants no more deliveries.
		d.Status = store.DeliveryFailed
		log.Warn("endpoint answered 410 Gone; delivery failed", "attempts", d.Attempts)
	case d.Attempts >= n.cfg.MaxAttempts:
		d.Status = store.DeliveryFailed
		log.Warn("delivery failed; giving up", "attempts", d.Attempts, "status", out.status, "error", out.err)
	default:
		wait := max(n.cfg.Backoff(d.Attempts), out.retryAfter)
		d.NextAttemptAt = now.Add(wait)
		log.Info("attempt failed; will retry", "attempts", d.Attempts, "status", out.status,
			"error", out.err, "retry_in", wait.Round(time.Millisecond))
	}
	return n.record(ctx, log, d)
}

// record stores d's new state. It runs even if ctx was cancelled after the
// response came back: the receiver saw the attempt, so it must count.
func (n *Notifier) record(ctx context.Context, log *slog.Logger, d *store.Delivery) time.Duration {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := n.st.UpdateDelivery(ctx, d)
	if errors.Is(err, store.ErrNotFound) {
		return 0 // its webhook was deleted meanwhile, and its deliveries with it
	}
	if err != nil {
		log.Error("record delivery outcome", "error", err)
		return max(n.cfg.Backoff(max(d.Attempts, 1)), n.cfg.PollInterval)
	}
	return 0
}

// send makes one signed POST of the delivery's payload.
func (n *Notifier) send(ctx context.Context, wh *store.Webhook, d *store.Delivery) outcome {
	ts := n.cfg.Now()
	sig, err := Sign(wh.Secret, d.ID, ts, d.Payload)
	if err != nil {
		return outcome{err: truncate(err.Error())}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return outcome{err: truncate(fmt.Sprintf("bad webhook url: %v", err))}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, d.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)

	resp, err := n.client.Do(req)
	if err != nil {
		// The guard's refusal arrives here too, as a dial error naming
		// ErrForbiddenAddress and the address.
		return outcome{err: truncate(err.Error())}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorLen))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	out := outcome{status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := resp.Status
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
			msg += " (redirects are not followed; register the final URL): " + loc
		} else if b := strings.TrimSpace(string(head)); b != "" {
			msg += ": " + b
		}
		out.err = truncate(msg)
		out.retryAfter = retryAfter(resp.Header.Get("Retry-After"), ts)
	}
	return out
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// truncate keeps s within maxErrorLen bytes of valid UTF-8.
func truncate(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxErrorLen {
		return s
	}
	cut := maxErrorLen - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
