package webrtc

import "vitrine/internal/cors"

// corsPolicy lets WHIP and WHEP clients on other origins (a shop's page,
// the embeddable player) negotiate.
var corsPolicy = cors.Policy{
	Methods: "POST, PATCH, DELETE, OPTIONS",
	// The bearer token, the SDP and trickle content types, If-Match on PATCH.
	AllowHeaders: "Authorization, Content-Type, If-Match",
	// The session URL, the ICE servers and the entity tag trickle ICE needs.
	ExposeHeaders: "Location, Link, ETag, Accept-Patch, Content-Type",
}
