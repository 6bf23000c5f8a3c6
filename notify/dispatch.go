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
	// storeTimeout bounds each store call of an attempt: loading the
	// webhook, and writing the outcome, which runs even while shutting
	// down so the attempt is not lost. With the HTTP timeout it bounds an
	// attempt, which the lease must outlast.
	storeTimeout = 5 * time.Second
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = time.Hour
)

// dispatcher is Run's state: the slots of attempts in flight.
type dispatcher struct {
	n   *Notifier
	sem chan struct{} // one token per attempt in flight
	wg  sync.WaitGroup
}

// Run delivers the outbox and sends the "starting soon" notifications
// until ctx is done. Then it waits up to DrainTimeout for attempts in
// flight, cancels the rest (they are released to be retried at once, by
// the next Run or another node) and returns nil. Only one Run per Notifier
// at a time.
//
// Several nodes may each run a dispatcher on one store: deliveries are
// claimed (store.ClaimDueDeliveries) for Lease before they are attempted,
// so each attempt is made by one node. If a node dies mid-attempt, its
// claimed deliveries are due again once the lease runs out and another
// node retries them. Delivery is at least once: a node that dies after the
// receiver answered but before the outcome is stored leaves a delivery
// that will be sent again, with the same webhook-id for the receiver to
// deduplicate on.
func (n *Notifier) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("notify: Run is already running")
	}
	defer n.running.Store(false)

	// Attempts get their own context so that ctx ending does not cut a
	// request half-way: DrainTimeout decides when to give up on them.
	attemptCtx, cancelAttempts := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAttempts()
	d := &dispatcher{n: n, sem: make(chan struct{}, n.cfg.Concurrency)}
	d.wg.Go(func() { n.runScheduler(ctx) })

	tick := time.NewTicker(n.cfg.PollInterval)
	defer tick.Stop()
	n.log.Info("dispatcher started", "concurrency", n.cfg.Concurrency, "lease", n.lease,
		"allow_private", n.cfg.AllowPrivate)
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

// dispatchDue claims as many due deliveries as there are free slots and
// starts an attempt for each. A finished attempt wakes the loop, so a
// backlog larger than one batch drains without waiting for the poll
// interval. A claimed delivery is not due again before its lease ends, so
// the next poll does not return the ones in flight.
func (d *dispatcher) dispatchDue(ctx, attemptCtx context.Context) {
	free := cap(d.sem) - len(d.sem)
	if free == 0 || ctx.Err() != nil {
		return
	}
	claimed, err := d.n.st.ClaimDueDeliveries(ctx, d.n.cfg.Now(), d.n.lease, free)
	if err != nil {
		if ctx.Err() == nil {
			d.n.log.Error("claim due deliveries", "error", err)
		}
		return
	}
	for _, dl := range claimed {
		// Never blocks: only this loop takes slots, and at least len(claimed)
		// were free when it looked.
		d.sem <- struct{}{}
		d.wg.Go(func() {
			defer d.n.Wake()
			defer func() { <-d.sem }()
			d.n.attempt(attemptCtx, &dl)
		})
	}
}

// outcome is what one attempt learned.
type outcome struct {
	status     int           // HTTP status, 0 if no response
	err        string        // for LastError; "" on success
	retryAfter time.Duration // the receiver's Retry-After, if any
}

// attempt sends one claimed delivery and records the outcome. When the
// outcome cannot be known or stored, the delivery stays claimed and is
// retried once the lease runs out.
func (n *Notifier) attempt(ctx context.Context, d *store.Delivery) {
	log := n.log.With("delivery", d.ID, "webhook", d.WebhookID, "type", d.Type)
	loadCtx, cancel := context.WithTimeout(ctx, storeTimeout)
	wh, err := n.st.GetWebhook(loadCtx, d.WebhookID)
	cancel()
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The subscription was removed after the event: nobody to tell.
		d.Status = store.DeliveryFailed
		d.LastError = "webhook deleted"
		n.record(ctx, log, d)
		return
	case err != nil:
		if ctx.Err() == nil {
			log.Error("load webhook; will retry after the lease", "error", err, "lease", n.lease)
		}
		return
	}

	out := n.send(ctx, wh, d)
	if out.status == 0 && ctx.Err() != nil {
		// Cancelled by shutdown, not failed: release the claim so the next
		// Run, here or on another node, retries at once, uncounted.
		log.Info("attempt abandoned at shutdown; released for retry")
		d.NextAttemptAt = n.cfg.Now()
		n.record(ctx, log, d)
		return
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
	n.record(ctx, log, d)
}

// record stores d's new state. It runs even if ctx was cancelled after the
// response came back: the receiver saw the attempt, so it must count. If
// it fails, the delivery stays as claimed and is attempted again after the
// lease (the receiver may then see it twice, with the same webhook-id).
func (n *Notifier) record(ctx context.Context, log *slog.Logger, d *store.Delivery) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	err := n.st.UpdateDelivery(ctx, d)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Its webhook was deleted meanwhile, and its deliveries with it.
	case err != nil:
		log.Error("record delivery outcome; will retry after the lease", "error", err, "lease", n.lease)
	}
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
