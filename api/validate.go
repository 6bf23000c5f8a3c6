package api

import (
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Money is a decimal string: up to 10 integer digits and 4 fraction digits.
// Its canonical form has no leading zeros and at least two fraction digits,
// keeping a third and fourth only when they are not zero: "129" ->
// "129.00", "0129.5" -> "129.50", "1.2340" -> "1.234". The same canonical
// form is used whatever the currency's minor unit (a JPY price reads
// "500.00"), so that money compares as text.
var moneyPattern = regexp.MustCompile(`^\d{1,10}(\.\d{1,4})?$`)

const moneyDoc = `decimal string, up to 10 integer and 4 fraction digits; returned in canonical form ("129" -> "129.00")`

func canonicalMoney(s string) (string, bool) { return canonicalDecimal(s, 2) }

// canonicalDecimal validates s against moneyPattern and normalises it with
// at least minFrac fraction digits.
func canonicalDecimal(s string, minFrac int) (string, bool) {
	if !moneyPattern.MatchString(s) {
		return "", false
	}
	ip, fp, _ := strings.Cut(s, ".")
	ip = strings.TrimLeft(ip, "0")
	if ip == "" {
		ip = "0"
	}
	fp = strings.TrimRight(fp, "0")
	for len(fp) < minFrac {
		fp += "0"
	}
	if fp == "" {
		return ip, true
	}
	return ip + "." + fp, true
}

// decimal parses a string already checked by canonicalDecimal.
func decimal(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return new(big.Rat)
	}
	return r
}

func isZero(s string) bool { return decimal(s).Sign() == 0 }

// checkMoney validates and canonicalises a required amount in place.
func checkMoney(v *validator, field string, s *string) {
	c, ok := canonicalMoney(*s)
	if !ok {
		v.add(field, "must be a decimal string such as \"129.00\" (up to 10 digits, 4 decimals), got %q", clip(*s))
		return
	}
	*s = c
}

func checkCurrency(v *validator, field, s string) {
	if !validCurrency(s) {
		v.add(field, "must be an ISO 4217 currency code in capitals such as \"EUR\", got %q", clip(s))
	}
}

// checkText bounds a text field's length in characters and refuses control
// characters (except newline and tab in multi-line text).
func checkText(v *validator, field, s string, required bool, max int, multiline bool) {
	if required && strings.TrimSpace(s) == "" {
		v.add(field, "is required")
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.add(field, "must have at most %d characters, has %d", max, n)
		return
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			v.add(field, "must not contain control characters")
			return
		}
	}
}

// checkCode bounds an identifier-like field (SKU, voucher code, order
// code): visible characters only, no spaces at either end.
func checkCode(v *validator, field, s string, max int) {
	if s == "" {
		v.add(field, "is required")
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.add(field, "must have at most %d characters, has %d", max, n)
		return
	}
	if strings.TrimSpace(s) != s {
		v.add(field, "must not start or end with spaces")
		return
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			v.add(field, "must not contain control characters")
			return
		}
	}
}

const maxURL = 2048

// checkURL accepts an absolute http(s) URL with a host, or "" when not
// required.
func checkURL(v *validator, field, s string, required bool) {
	if s == "" {
		if required {
			v.add(field, "is required")
		}
		return
	}
	if len(s) > maxURL {
		v.add(field, "must have at most %d characters", maxURL)
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		v.add(field, "must be an absolute http or https URL, got %q", clip(s))
		return
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			v.add(field, "must not contain spaces or control characters")
			return
		}
	}
}

// checkTime parses a required RFC 3339 time; the store keeps microseconds.
func checkTime(v *validator, field, s string) time.Time {
	if s == "" {
		v.add(field, "is required")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.add(field, "must be an RFC 3339 time such as \"2026-11-22T10:00:00Z\", got %q", clip(s))
		return time.Time{}
	}
	if t.Year() < 2000 || t.Year() > 9999 {
		v.add(field, "must be between the years 2000 and 9999")
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// checkIDs checks a list of ids for length and duplicates.
func checkIDs(v *validator, field string, ids []string, max int) bool {
	if len(ids) > max {
		v.add(field, "must have at most %d entries, has %d", max, len(ids))
		return false
	}
	seen := make(map[string]bool, len(ids))
	ok := true
	for i, id := range ids {
		f := field + "[" + strconv.Itoa(i) + "]"
		switch {
		case id == "" || len(id) > 128:
			v.add(f, "must be an id")
			ok = false
		case seen[id]:
			v.add(f, "duplicates %q", clip(id))
			ok = false
		}
		seen[id] = true
	}
	return ok
}

// clip shortens user input echoed in error messages.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	_, ok := currencies[s]
	return ok
}

// currencies are the ISO 4217 codes of circulating currencies (list one of
// the standard, 2024), without fund, precious metal and testing codes: a
// shop prices in money people pay with.
var currencies = func() map[string]struct{} {
	const list = `AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES
KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL`
	m := map[string]struct{}{}
	for _, c := range strings.Fields(list) {
		m[c] = struct{}{}
	}
	return m
}()
