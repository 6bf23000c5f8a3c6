package hls

import "vitrine/internal/cors"

// corsPolicy lets players on a shop's page (hls.js, the embeddable widget)
// read the streams.
var corsPolicy = cors.Policy{
	Methods: "GET, HEAD, OPTIONS",
	// Range is the header that triggers a preflight.
	AllowHeaders: "Range, Accept, Accept-Encoding, Accept-Language, Cache-Control, " +
		"Content-Type, If-Modified-Since, If-None-Match, Origin",
	// Sizes and freshness, for players.
	ExposeHeaders: "Content-Length, Content-Range, Content-Type, Cache-Control, Date, Age, ETag",
}
