package api

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"vitrine/store"
)

func (a *API) calendarRoutes() []*route {
	return []*route{
		{Method: "GET", Path: "/live/{id}/calendar.ics", ID: "campaignCalendar", Tag: "Viewers", Public: true,
			Summary: "Calendar reminder (iCalendar)",
			Doc: "An RFC 5545 event for the campaign's window with the watch page and an alarm 15 minutes before. " +
				"Published campaigns only.",
			Status: http.StatusOK, RespType: "text/calendar", handle: a.calendar},
	}
}

// publishedCampaign reads the {id} campaign for a viewer: unpublished ones
// do not exist for them.
func (a *API) publishedCampaign(r *http.Request) (*store.Campaign, error) {
	id, err := idParam(r, "campaign")
	if err != nil {
		return nil, err
	}
	c, err := a.st.GetCampaign(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.Published) {
		return nil, errorf(http.StatusNotFound, "not_found", "no published campaign with this id")
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (a *API) calendar(w http.ResponseWriter, r *http.Request) error {
	c, err := a.publishedCampaign(r)
	if err != nil {
		return err
	}
	l := a.links(r)
	host := l.hostname
	if host == "" {
		host = "vitrine"
	}
	body := icsEvent{
		UID:         c.ID + "@" + host,
		Stamp:       a.now(),
		Modified:    c.UpdatedAt,
		Start:       c.StartsAt,
		End:         c.EndsAt,
		Summary:     c.Title,
		Description: strings.TrimSpace(c.Description + "\n\nWatch live: " + l.watch(c.ID)),
		URL:         l.watch(c.ID),
	}.render()
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+safeFilename(c.ID)+`.ics"`)
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(body))
	return nil
}

var unsafeFilename = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func safeFilename(s string) string {
	if s = unsafeFilename.ReplaceAllString(s, "_"); s == "" {
		return "campaign"
	}
	return s
}

// icsEvent is one VEVENT in its own VCALENDAR.
type icsEvent struct {
	UID, Summary, Description, URL string
	Stamp, Modified, Start, End    time.Time
}

// render writes RFC 5545: CRLF line endings, content lines folded at 75
// octets, TEXT values escaped, times in UTC.
func (e icsEvent) render() string {
	var b strings.Builder
	line := func(name, value string) { b.WriteString(foldLine(name + ":" + value)) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//Vitrine//Live shopping//EN")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", "PUBLISH")
	line("BEGIN", "VEVENT")
	line("UID", icsText(e.UID))
	line("DTSTAMP", icsTime(e.Stamp))
	if !e.Modified.IsZero() {
		line("LAST-MODIFIED", icsTime(e.Modified))
	}
	line("DTSTART", icsTime(e.Start))
	line("DTEND", icsTime(e.End))
	line("SUMMARY", icsText(e.Summary))
	line("DESCRIPTION", icsText(e.Description))
	line("URL", e.URL) // a URI value: not TEXT-escaped
	line("BEGIN", "VALARM")
	line("ACTION", "DISPLAY")
	line("DESCRIPTION", icsText(e.Summary+" starts in 15 minutes"))
	line("TRIGGER", "-PT15M")
	line("END", "VALARM")
	line("END", "VEVENT")
	line("END", "VCALENDAR")
	return b.String()
}

func icsTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icsText escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon,
// comma and newlines; other control characters are not allowed and dropped.
func icsText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n' || r == '\r':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// foldLine splits a content line into lines of at most 75 octets (not
// counting CRLF), continuation lines starting with one space, never inside
// a UTF-8 sequence.
func foldLine(s string) string {
	const limit = 75
	var b strings.Builder
	first := true
	for len(s) > 0 {
		room := limit
		if !first {
			room-- // the leading space counts
			b.WriteString(" ")
		}
		cut := len(s)
		if cut > room {
			cut = room
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n")
		s = s[cut:]
		first = false
	}
	return b.String()
}
