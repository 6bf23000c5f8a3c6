package analytics

import (
	"net/url"
	"strings"
)

// Direct is the traffic source of a visit without referrer or utm_source.
const Direct = "direct"

// maxSource bounds a source's length.
const maxSource = 64

// SourceOf names where a visitor came from: the utm_source of the page's
// URL or the one given, lower-cased, when there is one (campaign links
// say best where they were posted); otherwise the referrer's host without
// "www." ("google.com", "instagram.com"); otherwise "direct". A referrer
// on the page's own host is a move within the site, not an origin, and
// counts as direct.
func SourceOf(referrer, pageURL, utmSource string) string {
	var page *url.URL
	if pageURL != "" {
		page, _ = url.Parse(pageURL)
	}
	if utmSource == "" && page != nil {
		utmSource = page.Query().Get("utm_source")
	}
	if s := cleanSource(utmSource); s != "" {
		return s
	}
	if referrer != "" {
		if u, err := url.Parse(referrer); err == nil && u.Hostname() != "" {
			host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
			if page != nil && strings.TrimPrefix(strings.ToLower(page.Hostname()), "www.") == host {
				return Direct
			}
			if s := cleanSource(host); s != "" {
				return s
			}
		}
	}
	return Direct
}

// cleanSource keeps letters, digits and . _ - of s, lower-cased, at most
// maxSource bytes: a source is a label in a chart, never markup.
func cleanSource(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxSource {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
