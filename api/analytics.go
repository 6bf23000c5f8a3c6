package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vitrine/analytics"
	"vitrine/store"
)

// DefaultTrackLimit bounds POST /live/{id}/track per client address: a
// page sends a batch every few seconds, and many viewers may share an
// address (a company's or a carrier's NAT).
var DefaultTrackLimit = RateLimit{Burst: 600, Period: time.Minute}

// maxBucketSeconds bounds the bucket parameter (366 days): a larger one
// would overflow a time.Duration long before it meant anything.
const maxBucketSeconds = 366 * 24 * 3600

type trackResult struct {
	Accepted   int `json:"accepted" doc:"events recorded now"`
	Duplicates int `json:"duplicates" doc:"events already recorded (same id): not counted again"`
	Ignored    int `json:"ignored" doc:"events not counted: sent by a bot (User-Agent)"`
}

func (a *API) analyticsRoutes() []*route {
	const tag = "Analytics"
	rangeParams := []param{
		{Name: "from", Type: "string", Format: "date-time", Doc: "start of the time range for prelive and replay (RFC 3339); default: the campaign's creation"},
		{Name: "to", Type: "string", Format: "date-time", Doc: "end of the time range for prelive and replay (RFC 3339, exclusive); default: now"},
	}
	return []*route{
		{Method: "POST", Path: "/live/{id}/track", ID: "track", Tag: "Viewers", Public: true,
			Summary: "Send tracking events",
			Doc: "Players and widgets send what viewers do, in batches of one viewer: page and widget views and clicks, " +
				"the page's session (start, a heartbeat every 30 s, end), the teasing video, the catalog, product clicks, " +
				"add to cart, carts, purchases, shares, likes, alert subscriptions, the survey shown. The device comes from the " +
				"User-Agent, the traffic source from referrer, page_url and utm_source. Every event has an id: an event sent " +
				"again (a retried batch) is counted once. At most 64 KiB and 100 events a batch (413, 422); a malformed body " +
				"is 400 and an invalid field refuses the whole batch (422, naming every field). Published campaigns only (404). " +
				"Rate-limited per client address (600 batches a minute by default, 429). What the server sees itself — WHEP and " +
				"HLS viewers, chat, likes, votes, survey answers, orders — is not sent here.",
			Body: analytics.TrackBatch{}, Status: http.StatusAccepted, Response: trackResult{},
			Errors: []int{http.StatusRequestEntityTooLarge}, Limit: a.trackLimit, handle: a.track},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/analytics", ID: "getAnalytics", Tag: tag,
			Summary: "Measure a campaign: prelive, live and replay metrics",
			Doc: "Every metric of the three phases, each defined in the response schema. Prelive is before the first go-live, " +
				"live until the end of the live, replay after; from and to narrow prelive and replay (the live is always " +
				"whole). Evolution series are cut in buckets of bucket seconds (default: 1 min to 7 days, at most 120 " +
				"buckets for the longest phase; at most 2000).",
			Query: append([]param{
				{Name: "phase", Type: "string", Enum: analytics.Phases, Doc: "only this phase; default: all three"},
				{Name: "bucket", Type: "integer", Min: 10, Max: maxBucketSeconds, Doc: "bucket of the evolution series, in seconds (10 to 31622400, 366 days)"},
			}, rangeParams...),
			Status: http.StatusOK, Response: analytics.Report{}, handle: a.getAnalytics},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/export.xlsx", ID: "exportCampaign", Tag: tag,
			Summary: "Export a campaign's data as a spreadsheet",
			Doc: "An .xlsx workbook with the parts asked for in include: metrics (a sheet per phase — section, metric, value " +
				"and its definition — and one of the interactions), users (name, phone, email, messages, opt-in, orders, " +
				"from chat, alert subscriptions, SMS reminders and orders) and chat (messages, questions and answers with " +
				"their moderation state: deleted, displayed to the host, viewer banned). from and to narrow the data.",
			Query: append([]param{
				{Name: "include", Type: "string", Doc: "comma-separated parts: metrics, users, chat; default: all"},
			}, rangeParams...),
			Status: http.StatusOK, RespType: analytics.ExportContentType, handle: a.exportCampaign},
	}
}

func (a *API) track(w http.ResponseWriter, r *http.Request) error {
	batch := &analytics.TrackBatch{}
	if err := decodeJSON(w, r, batch, analytics.MaxBatchBytes, false); err != nil {
		return err
	}
	c, err := a.publishedCampaign(r)
	if err != nil {
		return err
	}
	events, err := batch.Validate(analytics.Request{CampaignID: c.ID, Now: a.now(), UserAgent: r.UserAgent()})
	if err != nil {
		return batchErr(err)
	}
	if len(events) == 0 {
		return writeJSON(w, http.StatusAccepted, trackResult{Ignored: len(batch.Events)})
	}
	n, err := a.st.InsertTrackedEvents(r.Context(), events)
	if err != nil {
		return storeErr(err, "campaign", c.ID)
	}
	return writeJSON(w, http.StatusAccepted, trackResult{Accepted: n, Duplicates: len(events) - n})
}

// batchErr maps the analytics package's batch errors.
func batchErr(err error) error {
	var be *analytics.BatchError
	switch {
	case errors.Is(err, analytics.ErrTooLarge):
		return tooLarge(analytics.MaxBatchBytes)
	case errors.As(err, &be):
		fields := make([]fieldError, len(be.Fields))
		parts := make([]string, len(be.Fields))
		for i, f := range be.Fields {
			fields[i] = fieldError{Field: f.Field, Message: f.Message}
			parts[i] = f.Field + ": " + f.Message
		}
		status, code := http.StatusUnprocessableEntity, "validation_failed"
		if be.Malformed {
			status, code = http.StatusBadRequest, "invalid_json"
		}
		return &apiError{Status: status, Code: code, Message: strings.Join(parts, "; "), Fields: fields}
	}
	return err
}

// rangeFrom reads from and to.
func rangeFrom(r *http.Request) (from, to *time.Time, err error) {
	if from, err = timeParam(r, "from"); err != nil {
		return nil, nil, err
	}
	if to, err = timeParam(r, "to"); err != nil {
		return nil, nil, err
	}
	if from != nil && to != nil && !from.Before(*to) {
		return nil, nil, badRequest("invalid_parameter", "from must be before to")
	}
	return from, to, nil
}

func (a *API) getAnalytics(w http.ResponseWriter, r *http.Request) error {
	c, err := a.loadCampaign(r)
	if err != nil {
		return err
	}
	from, to, err := rangeFrom(r)
	if err != nil {
		return err
	}
	opt := analytics.Options{Phase: r.URL.Query().Get("phase"), From: from, To: to, Now: a.now()}
	if s := r.URL.Query().Get("bucket"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 || n > maxBucketSeconds {
			return badRequest("invalid_parameter", "bucket must be a number of seconds from 10 to %d, got %q", maxBucketSeconds, s)
		}
		opt.Bucket = time.Duration(n) * time.Second
	}
	rep, err := analytics.Compute(r.Context(), a.st, c.ID, opt)
	switch {
	case errors.Is(err, analytics.ErrTooManyPoints):
		return badRequest("invalid_parameter", "%v; choose a larger bucket or a shorter range", err)
	case err != nil:
		return storeErr(err, "campaign", c.ID)
	}
	return writeJSON(w, http.StatusOK, rep)
}

func (a *API) exportCampaign(w http.ResponseWriter, r *http.Request) error {
	c, err := a.loadCampaign(r)
	if err != nil {
		return err
	}
	from, to, err := rangeFrom(r)
	if err != nil {
		return err
	}
	opt := analytics.ExportOptions{From: from, To: to, Now: a.now()}
	include := r.URL.Query().Get("include")
	if include == "" {
		include = "metrics,users,chat"
	}
	for _, part := range strings.Split(include, ",") {
		switch strings.TrimSpace(part) {
		case "metrics":
			opt.Metrics = true
		case "users":
			opt.Users = true
		case "chat":
			opt.Chat = true
		default:
			return badRequest("invalid_parameter", "include lists metrics, users and chat, comma-separated; got %q", part)
		}
	}
	// The workbook is built first (excelize spills large sheets to
	// temporary files), so that an error is still a JSON answer.
	var buf spoolWriter
	defer buf.Close()
	if err := analytics.Export(r.Context(), a.st, c.ID, opt, &buf); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("campaign", c.ID)
		}
		return fmt.Errorf("export %s: %w", c.ID, err)
	}
	h := w.Header()
	h.Set("Content-Type", analytics.ExportContentType)
	h.Set("Content-Disposition", `attachment; filename="`+c.ID+`.xlsx"`)
	h.Set("Content-Length", strconv.FormatInt(buf.Size(), 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return buf.CopyTo(w)
}
