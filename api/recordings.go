package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"vitrine/store"
)

// Recordings is the recorder as the admin API uses it (the server wires
// it; api does not import the recorder). Its methods answer the errors
// below, which the routes turn into statuses.
type Recordings interface {
	// Recording describes the campaign's recording.
	Recording(ctx context.Context, campaignID string) (*RecordingView, error)
	ProductsTimeline(ctx context.Context, campaignID string) (*ProductsTimelineView, error)
	Sequences(ctx context.Context, campaignID string) ([]SequenceView, error)
	// ServeMP4 writes the whole replay (sequenceID "") or one product
	// sequence as MP4, with Range support; it writes nothing when it
	// returns an error.
	ServeMP4(w http.ResponseWriter, r *http.Request, campaignID, sequenceID string) error
	ServeSequencesZIP(w http.ResponseWriter, r *http.Request, campaignID string) error
	// Reset runs resetStore while nothing records the campaign, then
	// deletes the recording's files. Remove deletes the recording alone.
	Reset(ctx context.Context, campaignID string, resetStore func(ctx context.Context) error) error
	Remove(ctx context.Context, campaignID string) error
}

// Errors of a Recordings implementation.
var (
	ErrNoRecording         = errors.New("no recording")
	ErrRecordingInProgress = errors.New("recording in progress")
	ErrNoSequence          = errors.New("no such sequence")
	ErrCampaignLive        = errors.New("campaign live")
	ErrTooLarge            = errors.New("too large for one MP4")
)

// FinalisingError: the live just ended and its video is being prepared.
type FinalisingError struct {
	Progress   float64
	RetryAfter time.Duration
}

func (e *FinalisingError) Error() string { return fmt.Sprintf("finalising (%.0f%%)", e.Progress*100) }

// RecordingView is a campaign's recording.
type RecordingView struct {
	State     string     `json:"state" enum:"recording,finalising,ready,failed,deleted" doc:"recording: the live is being written; finalising: it ended, its files are being checked (downloads answer 202); ready; failed: a write error (disk full...) stopped it, what was written before plays; deleted: removed by recordings.delete_after"`
	Error     string     `json:"error,omitempty" doc:"the write error that stopped the recording"`
	ErrorAt   *time.Time `json:"error_at,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Sessions  int        `json:"sessions" doc:"publisher sessions (a drop and a reconnection makes two, played one after the other)"`
	Segments  int        `json:"segments"`
	Duration  float64    `json:"duration" doc:"seconds of replay"`
	Size      int64      `json:"size" doc:"bytes on disk"`
	Progress  *float64   `json:"progress,omitempty" doc:"finalisation progress, 0 to 1"`
	Replay    string     `json:"replay,omitempty" format:"uri" doc:"HLS VOD playlist of the replay"`
	Events    string     `json:"events,omitempty" format:"uri" doc:"the replay's shopping timeline"`
	Download  string     `json:"download,omitempty" format:"uri" doc:"the whole replay as one MP4 (admin)"`
}

// ProductIntervalView is one time a product was on screen.
type ProductIntervalView struct {
	PinSeq   int64     `json:"pin_seq" doc:"seq of the product.pinned event; the id of its sequence"`
	From     time.Time `json:"from" doc:"pinned at, media clock"`
	To       time.Time `json:"to" doc:"unpinned at, or the end of the live"`
	Open     bool      `json:"open" doc:"never unpinned: to is the end of the live"`
	Duration float64   `json:"duration" doc:"seconds"`
}

// ProductTimelineView is one product of the Products tab.
type ProductTimelineView struct {
	ProductID string                `json:"product_id"`
	Name      string                `json:"name"`
	Price     string                `json:"price"`
	Currency  string                `json:"currency"`
	ImageURL  string                `json:"image_url"`
	FirstAt   time.Time             `json:"first_shown_at"`
	Intervals []ProductIntervalView `json:"intervals"`
	Total     float64               `json:"total_display_time" doc:"seconds the product was shown"`
}

// ProductsTimelineView is the Products tab.
type ProductsTimelineView struct {
	LiveStartedAt *time.Time            `json:"live_started_at"`
	LiveEndedAt   *time.Time            `json:"live_ended_at"`
	Products      []ProductTimelineView `json:"products" doc:"in order of first appearance"`
}

// SequenceView is one product sequence.
type SequenceView struct {
	ID         string    `json:"id" doc:"seq of the pin event"`
	ProductID  string    `json:"product_id"`
	Name       string    `json:"name"`
	PinnedAt   time.Time `json:"pinned_at"`
	UnpinnedAt time.Time `json:"unpinned_at"`
	Open       bool      `json:"open" doc:"never unpinned: the sequence runs to the end of the live"`
	Start      float64   `json:"start" doc:"seconds into the replay of the clip's first frame (the keyframe at or before the pin)"`
	Duration   float64   `json:"duration" doc:"seconds"`
	Playlist   string    `json:"playlist,omitempty" format:"uri" doc:"the sequence as HLS VOD (public)"`
	Download   string    `json:"download,omitempty" format:"uri" doc:"the sequence as MP4 (admin)"`
}

type resetRequest struct {
	Confirm string `json:"confirm" required:"true" doc:"the campaign's id, to confirm: the reset cannot be undone"`
}

type finalisingView struct {
	State    string  `json:"state" enum:"finalising"`
	Progress float64 `json:"progress" doc:"0 to 1"`
	Message  string  `json:"message"`
}

const finalisingDoc = "The live just ended and its video is being prepared: retry after Retry-After seconds " +
	"(the body is {state, progress, message}, not the file)."

func (a *API) recordingRoutes() []*route {
	const tag = "Recordings"
	mp4Errors := []int{http.StatusAccepted, http.StatusConflict, http.StatusUnprocessableEntity}
	return []*route{
		{Method: "GET", Path: "/api/v1/campaigns/{id}/recording", ID: "getRecording", Tag: tag,
			Summary: "The campaign's recording",
			Doc: "State of the live's recording, its size and duration, the replay URLs. A write error (disk full...) " +
				"stops the recording, never the live: state failed with the error. 404 recording_not_found if never recorded.",
			Status: http.StatusOK, Response: RecordingView{}, handle: a.getRecording},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/products-timeline", ID: "productsTimeline", Tag: tag,
			Summary: "Products tab: what was shown, when, how long",
			Doc: "Products in order of first appearance, each with its display intervals (pinned to unpinned, or to the " +
				"end of the live) and its total display time. Read from the campaign's event log.",
			Status: http.StatusOK, Response: ProductsTimelineView{}, handle: a.productsTimeline},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/sequences", ID: "listSequences", Tag: tag,
			Summary: "Product sequences",
			Doc: "One clip per display interval of a product: from the keyframe at or before the pin to the unpin, " +
				"as HLS VOD (playlist, public) and MP4 (download).",
			Status: http.StatusOK, Response: listOf(SequenceView{}), handle: a.listSequences},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/download.mp4", ID: "downloadReplay", Tag: tag,
			Summary: "Download the replay (MP4)",
			Doc: "The whole live as one MP4, streamed with Content-Length; Range requests are honoured. " +
				"202 while a just-ended live is being finalised (Retry-After, progress); 409 recording_in_progress during the live; " +
				"422 too_large past 4 GiB.",
			Status: http.StatusOK, RespType: "video/mp4", Errors: mp4Errors, RepeatDoc: finalisingDoc, handle: a.downloadReplay},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/sequences/{seq_id}/download.mp4", ID: "downloadSequence", Tag: tag,
			Summary: "Download a product sequence (MP4)",
			Doc:     "Like the replay download, for one sequence. 404 sequence_not_found.",
			Status:  http.StatusOK, RespType: "video/mp4", Errors: mp4Errors, RepeatDoc: finalisingDoc, handle: a.downloadSequence},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/sequences.zip", ID: "downloadSequences", Tag: tag,
			Summary: "Download every product sequence (ZIP of MP4s)",
			Doc:     "Streamed (no Content-Length). 202 while finalising, 404 sequence_not_found when no product was pinned.",
			Status:  http.StatusOK, RespType: "application/zip", Errors: mp4Errors, RepeatDoc: finalisingDoc, handle: a.downloadSequences},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/reset", ID: "resetCampaign", Tag: tag,
			Summary: "Reset the event",
			Doc: "Returns the campaign to its state before the live: its recording (files and index), its data-channel " +
				"events, its orders and statistics are deleted, and it is upcoming again (or completed past its end time). " +
				"Confirm with {\"confirm\": \"<campaign id>\"}; 409 campaign_live while live. Cannot be undone.",
			Body: resetRequest{}, Status: http.StatusOK, Response: campaignView{}, Errors: []int{http.StatusConflict}, handle: a.resetCampaign},
	}
}

// recordingErr maps a Recordings error.
func recordingErr(w http.ResponseWriter, err error) error {
	var fe *FinalisingError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoRecording):
		return errorf(http.StatusNotFound, "recording_not_found", "this campaign has no recording")
	case errors.Is(err, ErrNoSequence):
		return errorf(http.StatusNotFound, "sequence_not_found", "no product sequence with that id")
	case errors.Is(err, ErrRecordingInProgress):
		return conflict("recording_in_progress", "the live is being recorded: download it once it has ended")
	case errors.Is(err, ErrCampaignLive):
		return conflict("campaign_live", "the campaign is live: end it first")
	case errors.Is(err, ErrTooLarge):
		return errorf(http.StatusUnprocessableEntity, "too_large", "the video is over 4 GiB, more than one MP4 holds: download the product sequences")
	case errors.As(err, &fe):
		w.Header().Set("Retry-After", strconv.Itoa(max(int(fe.RetryAfter.Seconds()), 1)))
		return writeJSON(w, http.StatusAccepted, finalisingView{State: "finalising", Progress: fe.Progress,
			Message: "the video is being prepared; try again in a moment"})
	}
	return err
}

func (a *API) withRecordings(r *http.Request) (string, error) {
	c, err := a.loadCampaign(r)
	if err != nil {
		return "", err
	}
	if a.recordings == nil {
		return "", errorf(http.StatusNotFound, "recording_not_found", "recording is disabled on this server")
	}
	return c.ID, nil
}

func (a *API) getRecording(w http.ResponseWriter, r *http.Request) error {
	id, err := a.withRecordings(r)
	if err != nil {
		return err
	}
	v, err := a.recordings.Recording(r.Context(), id)
	if err != nil {
		return recordingErr(w, err)
	}
	l := a.links(r)
	if v.State != store.RecordingDeleted {
		v.Replay, v.Events, v.Download = l.http("replay", id, "index.m3u8"), l.http("replay", id, "events"),
			l.http("api", "v1", "campaigns", id, "download.mp4")
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) productsTimeline(w http.ResponseWriter, r *http.Request) error {
	id, err := a.withRecordings(r)
	if err != nil {
		return err
	}
	v, err := a.recordings.ProductsTimeline(r.Context(), id)
	if err != nil {
		return recordingErr(w, err)
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) listSequences(w http.ResponseWriter, r *http.Request) error {
	id, err := a.withRecordings(r)
	if err != nil {
		return err
	}
	seqs, err := a.recordings.Sequences(r.Context(), id)
	if err != nil {
		return recordingErr(w, err)
	}
	l := a.links(r)
	for i := range seqs {
		seqs[i].Playlist = l.http("replay", id, "sequences", seqs[i].ID, "index.m3u8")
		seqs[i].Download = l.http("api", "v1", "campaigns", id, "sequences", seqs[i].ID, "download.mp4")
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: seqs})
}

func (a *API) downloadReplay(w http.ResponseWriter, r *http.Request) error {
	id, err := a.withRecordings(r)
	if err != nil {
		return err
	}
	return recordingErr(w, a.recordings.ServeMP4(w, r, id, ""))
}

func (a *API) downloadSequence(w http.ResponseWriter, r *http.Request) error {
	id, err := a.withRecordings(r)
	if err != nil {
		return err
	}
	seq := r.PathValue("seq_id")
	if seq == "" || len(seq) > 20 {
		return errorf(http.StatusNotFound, "sequence_not_found", "no product sequence with that id")
	}
	return recordingErr(w, a.recordings.ServeMP4(w, r, id, seq))
}

func (a *API) downloadSequences(w http.ResponseWriter, r *http.Request) error {
	id, err := a.withRecordings(r)
	if err != nil {
		return err
	}
	return recordingErr(w, a.recordings.ServeSequencesZIP(w, r, id))
}

func (a *API) resetCampaign(w http.ResponseWriter, r *http.Request) error {
	var in resetRequest
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	id, err := idParam(r, "campaign")
	if err != nil {
		return err
	}
	defer a.locks.lock("campaign/" + id)()
	c, err := a.loadCampaign(r)
	if err != nil {
		return err
	}
	if in.Confirm != c.ID {
		return invalidField("confirm", "must be the campaign's id, %q, to confirm the reset", c.ID)
	}
	now := a.now()
	if c.Status(now) == store.StatusOngoing {
		return conflict("campaign_live", "the campaign is live: end it before resetting it")
	}
	if c.Preparing() {
		return conflict("campaign_preparing", "the campaign is in preparation: abandon the preparation before resetting it")
	}
	ctx := r.Context()
	var reset *store.Campaign
	resetStore := func(ctx context.Context) error {
		var err error
		reset, err = a.st.ResetCampaignLive(ctx, id)
		return err
	}
	if a.recordings != nil {
		err = a.recordings.Reset(ctx, id, resetStore)
	} else {
		err = resetStore(ctx)
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("campaign", id)
		}
		return recordingErr(w, err)
	}
	// Viewers' rooms hold the old log's state and sequence.
	if a.overlay != nil {
		a.overlay.Forget(id)
	}
	a.hub.End(id)
	a.log.InfoContext(ctx, "campaign reset", "campaign", id, "request_id", requestIDFrom(ctx))
	return writeJSON(w, http.StatusOK, a.campaignOut(a.links(r), reset, now))
}
