package operators

import (
	"strings"
	"testing"
	"time"
)

func TestParseRFC3339Millis(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC with millis; "" when the input is invalid
	}{
		{"2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000Z"},
		{"2024-05-01T12:00:00.123Z", "2024-05-01T12:00:00.123Z"},
		{"2024-05-01T12:00:00.1Z", "2024-05-01T12:00:00.100Z"},
		{"2024-05-01T12:00:00.12Z", "2024-05-01T12:00:00.120Z"},
		{"2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00.123Z"},
		{"2024-05-01T14:30:00.5+02:30", "2024-05-01T12:00:00.500Z"},
		{"2024-05-01T07:00:00-05:00", "2024-05-01T12:00:00.000Z"},
		{"2024-05-01t12:00:00z", "2024-05-01T12:00:00.000Z"},
		{"2024-05-01 12:00:00Z", "2024-05-01T12:00:00.000Z"},
		{"1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"},
		{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"},
		{"9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"},
		{"2023-02-29T00:00:00Z", ""},
		{"2024-13-01T00:00:00Z", ""},
		{"2024-00-01T00:00:00Z", ""},
		{"2024-04-31T00:00:00Z", ""},
		{"2024-05-01T24:00:00Z", ""},
		{"2024-05-01T12:60:00Z", ""},
		{"2024-05-01T12:00:60Z", ""},
		{"2024-05-01T12:00:00", ""},
		{"2024-05-01T12:00:00.Z", ""},
		{"2024-05-01T12:00:00.123", ""},
		{"2024-05-01T12:00:00+0200", ""},
		{"2024-05-01T12:00:00+24:00", ""},
		{"2024-05-01T12:00:00Zjunk", ""},
		{"2024-05-01", ""},
		{"yesterday at noon, roughly", ""},
		{"2024-5-01T12:00:00Z", ""},
	}
	for _, tc := range tests {
		got, ok := parseRFC3339Millis([]byte(tc.in))
		if tc.want == "" {
			if ok {
				t.Errorf("%q: parsed as %d, want rejection", tc.in, got)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: rejected", tc.in)
			continue
		}
		if s := time.UnixMilli(got).UTC().Format("2006-01-02T15:04:05.000Z07:00"); s != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, s, tc.want)
		}
	}
}

// FuzzParseRFC3339Millis checks the parser against the standard library
// wherever time.Parse accepts its canonical form.
func FuzzParseRFC3339Millis(f *testing.F) {
	for _, s := range []string{"2024-05-01T12:00:00.123Z", "2024-05-01T14:30:00+02:30", "1999-12-31T23:59:59.9999-00:01", "2000-02-29T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339Millis([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		// time.Parse also takes one-digit hours and other shapes RFC 3339
		// does not allow (decimal commas); compare where the layout is canonical.
		canonical := len(s) >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] != ','
		if n := len(s); canonical && n >= 25 && s[n-3] == ':' && s[n-2] > '5' {
			canonical = false // time.Parse takes offsets like +00:60
		}
		if err == nil && canonical {
			if !ok {
				t.Fatalf("%q: time.Parse accepts it, we reject it", s)
			}
			if got != want.UnixMilli() && !(want.UnixMilli() < 0 && got == want.Truncate(time.Millisecond).UnixMilli()) {
				t.Fatalf("%q: got %d, time.Parse gives %d", s, got, want.UnixMilli())
			}
		}
		// RFC 3339 allows a lower-case 'z', time.Parse does not.
		if ok && err != nil && canonical && !strings.HasSuffix(s, "z") {
			t.Fatalf("%q: we accept it, time.Parse says %v", s, err)
		}
	})
}
