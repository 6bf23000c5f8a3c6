package analytics

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Money amounts are kept as int64 in 1/10000 of the currency unit ("e4"),
// so that sums are exact.

var decimalPattern = regexp.MustCompile(`^\d{1,10}(\.\d{1,4})?$`)

// ParseAmount reads a decimal string ("129.9", "12.50") as e4 units.
func ParseAmount(s string) (int64, error) {
	if !decimalPattern.MatchString(s) {
		return 0, fmt.Errorf("amount %q: want a decimal such as 129.00 (at most 10 digits and 4 decimals)", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	frac = (frac + "0000")[:4]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*10000 + f, nil
}

// FormatAmount writes e4 units as a decimal string with two decimals, or
// more when the amount has them ("12.50", "0.125").
func FormatAmount(e4 int64) string {
	neg := e4 < 0
	if neg {
		e4 = -e4
	}
	s := fmt.Sprintf("%d.%04d", e4/10000, e4%10000)
	s = strings.TrimRight(s, "0")
	if i := strings.IndexByte(s, '.'); len(s)-i-1 < 2 {
		s += strings.Repeat("0", 2-(len(s)-i-1))
	}
	if neg {
		s = "-" + s
	}
	return s
}
