package store

import (
	"context"
	"time"
)

// TrackedStore keeps analytics' tracked events: what players and widgets
// report about viewers (page and widget views, clicks, carts, purchases,
// sessions...) and what the server sees itself of HLS and WHEP viewers.
// The overlay's log and the orders are not copied here: analytics reads
// them where they are.
type TrackedStore interface {
	// InsertTrackedEvents writes events in one transaction and returns how
	// many were new: an event whose (CampaignID, EventID) is already stored
	// is skipped, so a batch sent twice is counted once. An unknown
	// campaign is ErrNotFound and writes nothing.
	InsertTrackedEvents(ctx context.Context, events []TrackedEvent) (inserted int, err error)
	// TrackedSessions folds the events with a session id within [q.From,
	// q.To) (q.Types, when not empty, restricts them) into one span per
	// session: its viewer (the least viewer id among those events) and its
	// first and last event.
	TrackedSessions(ctx context.Context, q TrackedQuery) ([]TrackedSpan, error)
	// ScanTrackedEvents calls fn with each of q's events in time order,
	// without holding them all; fn's event is reused between calls. An
	// error from fn stops the scan and is returned.
	ScanTrackedEvents(ctx context.Context, q TrackedQuery, fn func(*TrackedEvent) error) error
	// ScanTrackedBrief calls fn with each of q's events in no particular
	// order, each with only the fields an index holds: CampaignID, Type,
	// At, ViewerID, Target, ProductID and Value, and with origin also
	// Device, Source and EventID (the rest are zero). It is the cheap read
	// for a fold over many events, each field costing a little per row;
	// fn's event is reused between calls, and an error from fn stops the
	// scan and is returned.
	ScanTrackedBrief(ctx context.Context, q TrackedQuery, origin bool, fn func(*TrackedEvent) error) error
	// DeleteTrackedEvents deletes every tracked event of the campaign (a
	// live's reset) and returns how many there were.
	DeleteTrackedEvents(ctx context.Context, campaignID string) (int64, error)
}

// TrackedEvent is one tracked event. Which fields mean something depends
// on Type (see package analytics); the rest are zero.
type TrackedEvent struct {
	CampaignID string
	// EventID is unique within the campaign, chosen by the sender.
	EventID   string
	Type      string
	At        time.Time // UTC, microseconds
	ViewerID  string
	SessionID string
	Device    string // desktop, mobile, tablet, other
	Source    string // traffic source
	// Target is a kind: the widget, the alert channel, the share network.
	Target    string
	ProductID string
	// AmountE4 is money in 1/10000 of Currency's unit (12.50 EUR: 125000).
	AmountE4 int64
	Currency string
	// Value is a number: a duration in milliseconds, a quantity.
	Value int64
	// Data is extra JSON (a purchase's product ids, a subscriber's
	// contact), "" for none.
	Data string
}

// TrackedQuery selects tracked events.
type TrackedQuery struct {
	CampaignID string
	// From and To bound At: From <= At < To. Zero: unbounded.
	From, To time.Time
	// Types: only these types; empty: every type.
	Types []string
	// Targets: only events with one of these targets; empty: any.
	Targets []string
}

// TrackedSpan is one session of TrackedSessions.
type TrackedSpan struct {
	SessionID   string
	ViewerID    string
	First, Last time.Time
}
