package analytics

import "github.com/mileusna/useragent"

// Device classes.
const (
	Desktop = "desktop"
	Mobile  = "mobile"
	Tablet  = "tablet"
	Other   = "other" // players, tools, TVs: anything else
)

// DeviceOf classifies a User-Agent header. Bots report ok false: their
// beacons are not counted.
func DeviceOf(ua string) (device string, ok bool) {
	if ua == "" {
		return Other, true
	}
	u := useragent.Parse(ua)
	switch {
	case u.Bot:
		return "", false
	case u.Tablet:
		return Tablet, true
	case u.Mobile:
		return Mobile, true
	case u.Desktop:
		return Desktop, true
	}
	return Other, true
}
