package operators

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanner reads one record, a JSON object, in a single validating pass:
// declared keys go straight into the decoder's slots, other values are
// checked and skipped. It never builds a value tree and allocates only when a
// record is rejected.
type scanner struct {
	d       *decoder
	scratch []byte // unescaped strings of the current record
}

// maxDepth bounds the nesting of skipped values.
const maxDepth = 1000

// Epoch milliseconds are accepted in the range an RFC 3339 string can
// express, years 0000 to 9999: beyond it an event time is a producer's bug,
// and at the int64 extremes (event time - watermark bound) would overflow.
const (
	minEpochMillis = -62167219200000 // 0000-01-01T00:00:00Z
	maxEpochMillis = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// depthError rejects valid JSON nested deeper than maxDepth; it is not a
// syntaxError because the record is valid JSON.
type depthError struct{ off int }

func (e *depthError) Error() string {
	return fmt.Sprintf("json: value nested deeper than %d levels at offset %d", maxDepth, e.off)
}

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("json: invalid JSON: %s at offset %d", e.msg, e.off)
}

func errSyntax(p []byte, i int, what string) error {
	if i >= len(p) {
		return &syntaxError{msg: "unexpected end of input", off: i}
	}
	return &syntaxError{msg: fmt.Sprintf("invalid character %s %s", quoteChar(p[i]), what), off: i}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(c))
	return "'" + s[1:len(s)-1] + "'"
}

// decode parses payload into the decoder's slots.
func (s *scanner) decode(p []byte) error {
	d := s.d
	d.begin()
	s.scratch = s.scratch[:0]
	i := skipWS(p, 0)
	if i == len(p) {
		return errSyntax(p, i, "")
	}
	if p[i] != '{' {
		end, err := skipValue(p, i, 0)
		if err != nil {
			return err
		}
		if end = skipWS(p, end); end != len(p) {
			return errSyntax(p, end, "after top-level value")
		}
		return fmt.Errorf("json: record is %s, not an object", kindOfTop(p[i]))
	}
	i = skipWS(p, i+1)
	if i < len(p) && p[i] == '}' {
		i++
	} else {
		for {
			if i >= len(p) || p[i] != '"' {
				return errSyntax(p, i, "looking for beginning of object key string")
			}
			key, end, _, err := s.str(p, i)
			if err != nil {
				return err
			}
			i = skipWS(p, end)
			if i >= len(p) || p[i] != ':' {
				return errSyntax(p, i, "after object key")
			}
			i = skipWS(p, i+1)
			if f := d.lookup(key); f >= 0 {
				i, err = s.field(p, i, f)
			} else {
				i, err = skipValue(p, i, 1)
			}
			if err != nil {
				return err
			}
			i = skipWS(p, i)
			if i < len(p) && p[i] == ',' {
				i = skipWS(p, i+1)
				continue
			}
			if i < len(p) && p[i] == '}' {
				i++
				break
			}
			return errSyntax(p, i, "after object key:value pair")
		}
	}
	if i = skipWS(p, i); i != len(p) {
		return &syntaxError{msg: "data after the object", off: i}
	}
	return d.end()
}

// field reads the value at p[i] into field f's slot.
func (s *scanner) field(p []byte, i, f int) (int, error) {
	d := s.d
	if i >= len(p) {
		return 0, errSyntax(p, i, "")
	}
	sl := &d.slots[f]
	kind := d.fields[f].kind
	switch c := p[i]; {
	case c == '"':
		v, end, ascii, err := s.str(p, i)
		if err != nil {
			return 0, err
		}
		switch kind {
		case kindString:
			if !ascii && !utf8.Valid(v) {
				return 0, d.rejectErr(f, "string is not valid UTF-8")
			}
			sl.l = d.cols[f].stage(v)
		case kindTimestamp:
			ms, ok := parseRFC3339Millis(v)
			if !ok {
				return 0, d.rejectErr(f, "cannot parse "+strconv.Quote(clip(string(v)))+" as an RFC 3339 time")
			}
			sl.i = ms
		default:
			return 0, d.wrongType(f, "a string")
		}
		sl.state = slotSet
		return end, nil
	case c == '-' || (c >= '0' && c <= '9'):
		end, isInt, err := scanNumber(p, i)
		if err != nil {
			return 0, err
		}
		num := p[i:end]
		switch kind {
		case kindInt64, kindTimestamp:
			n, ok := int64Of(num, isInt)
			if !ok {
				if kind == kindInt64 {
					return 0, d.rejectErr(f, "number "+clip(string(num))+" is not an int64")
				}
				return 0, d.rejectErr(f, "number "+clip(string(num))+" is not an integer of epoch milliseconds")
			}
			if kind == kindTimestamp && (n < minEpochMillis || n > maxEpochMillis) {
				return 0, d.rejectErr(f, "number "+clip(string(num))+" is outside the years 0000 to 9999")
			}
			sl.i = n
		case kindFloat64:
			if n, ok := int64Of(num, isInt); ok && n > -1<<53 && n < 1<<53 && (n != 0 || num[0] != '-') {
				// -0 takes ParseFloat's path, which keeps the sign.
				sl.f = float64(n)
			} else {
				v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
				if err != nil && !math.IsInf(v, 0) {
					return 0, d.rejectErr(f, "number "+clip(string(num))+" is not a float64")
				}
				if math.IsInf(v, 0) {
					return 0, d.rejectErr(f, "number "+clip(string(num))+" is out of float64's range")
				}
				sl.f = v
			}
		default:
			return 0, d.wrongType(f, "a number")
		}
		sl.state = slotSet
		return end, nil
	case c == 't' || c == 'f':
		end, err := literal(p, i)
		if err != nil {
			return 0, err
		}
		if kind != kindBool {
			return 0, d.wrongType(f, "a bool")
		}
		sl.b, sl.state = c == 't', slotSet
		return end, nil
	case c == 'n':
		end, err := literal(p, i)
		if err != nil {
			return 0, err
		}
		sl.state = slotNull
		return end, nil
	case c == '{':
		return 0, d.wrongType(f, "an object")
	case c == '[':
		return 0, d.wrongType(f, "an array")
	}
	return 0, errSyntax(p, i, "looking for beginning of value")
}

func (d *decoder) rejectErr(f int, reason string) error {
	return fmt.Errorf("json: field %q: %s", d.fields[f].name, reason)
}

func (d *decoder) wrongType(f int, got string) error {
	var want string
	switch d.fields[f].kind {
	case kindString:
		want = "a string"
	case kindInt64:
		want = "an integer"
	case kindFloat64:
		want = "a number"
	case kindBool:
		want = "true or false"
	case kindTimestamp:
		want = "an RFC 3339 string or epoch milliseconds"
	}
	return d.rejectErr(f, "want "+want+", got "+got)
}

func kindOfTop(c byte) string {
	switch c {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 'n':
		return "JSON null"
	case 't', 'f':
		return "a JSON bool"
	}
	return "a JSON number"
}

func skipWS(p []byte, i int) int {
	for i < len(p) {
		switch p[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainRun returns how many bytes from p[i] need no attention inside a
// string: printable ASCII other than the quote and the backslash. It looks
// at eight bytes at a time.
func plainRun(p []byte, i int) int {
	start := i
	for i+8 <= len(p) {
		x := binary.LittleEndian.Uint64(p[i:])
		q := x ^ (lsb * '"')
		b := x ^ (lsb * '\\')
		// A byte is flagged when it is zero after the XOR (quote,
		// backslash), below 0x20, or has its high bit set (not ASCII).
		t := ((q - lsb) &^ q) | ((b - lsb) &^ b) | (x - lsb*0x20) | x
		if t &= msb; t != 0 {
			return i - start + bits.TrailingZeros64(t)/8
		}
		i += 8
	}
	for i < len(p) {
		if c := p[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		i++
	}
	return i - start
}

// str reads the string starting at the quote p[i] and returns its unescaped
// bytes (a sub-slice of p when it has no escapes, else of the scratch
// buffer), the offset after the closing quote, and whether it is all ASCII.
func (s *scanner) str(p []byte, i int) (v []byte, end int, ascii bool, err error) {
	start := i + 1
	ascii = true
	i = start
	for {
		i += plainRun(p, i)
		if i >= len(p) || p[i] < 0x80 {
			break
		}
		ascii = false // a byte >= 0x80; utf8 checks it later
		i++
	}
	if i < len(p) && p[i] == '"' {
		return p[start:i:i], i + 1, ascii, nil
	}
	// Escapes: unescape into scratch.
	mark := len(s.scratch)
	s.scratch = append(s.scratch, p[start:i]...)
	for {
		if i >= len(p) {
			return nil, 0, false, errSyntax(p, i, "")
		}
		switch c := p[i]; {
		case c == '"':
			out := s.scratch[mark:len(s.scratch):len(s.scratch)]
			return out, i + 1, ascii, nil
		case c < 0x20:
			return nil, 0, false, errSyntax(p, i, "in string literal")
		case c >= 0x80:
			ascii = false
			s.scratch = append(s.scratch, c)
			i++
		case c == '\\':
			if i+1 >= len(p) {
				return nil, 0, false, errSyntax(p, i+1, "")
			}
			switch e := p[i+1]; e {
			case '"', '\\', '/':
				s.scratch = append(s.scratch, e)
			case 'b':
				s.scratch = append(s.scratch, '\b')
			case 'f':
				s.scratch = append(s.scratch, '\f')
			case 'n':
				s.scratch = append(s.scratch, '\n')
			case 'r':
				s.scratch = append(s.scratch, '\r')
			case 't':
				s.scratch = append(s.scratch, '\t')
			case 'u':
				r, ok := hex4(p, i+2)
				if !ok {
					return nil, 0, false, errSyntax(p, i+1, "in \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok := rune(-1), false
					if i+1 < len(p) && p[i] == '\\' && p[i+1] == 'u' {
						r2, ok = hex4(p, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				if r >= utf8.RuneSelf {
					ascii = false
				}
				s.scratch = utf8.AppendRune(s.scratch, r)
				continue
			default:
				return nil, 0, false, errSyntax(p, i+1, "in string escape code")
			}
			i += 2
		default:
			n := plainRun(p, i)
			s.scratch = append(s.scratch, p[i:i+n]...)
			i += n
		}
	}
}

func hex4(p []byte, i int) (rune, bool) {
	if i+4 > len(p) {
		return 0, false
	}
	var r rune
	for _, c := range p[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanNumber checks the JSON number at p[i] and returns the offset after
// it and whether it is an integer (no fraction, no exponent).
func scanNumber(p []byte, i int) (int, bool, error) {
	if p[i] == '-' {
		i++
	}
	switch {
	case i < len(p) && p[i] == '0':
		i++
	case i < len(p) && p[i] >= '1' && p[i] <= '9':
		for i++; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		}
	default:
		return 0, false, errSyntax(p, i, "in numeric literal")
	}
	isInt := true
	if i < len(p) && p[i] == '.' {
		isInt = false
		i++
		if i >= len(p) || p[i] < '0' || p[i] > '9' {
			return 0, false, errSyntax(p, i, "after decimal point in numeric literal")
		}
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		isInt = false
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		if i >= len(p) || p[i] < '0' || p[i] > '9' {
			return 0, false, errSyntax(p, i, "in exponent of numeric literal")
		}
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
	}
	return i, isInt, nil
}

// int64Of converts a checked integer literal, reporting overflow.
func int64Of(num []byte, isInt bool) (int64, bool) {
	if !isInt {
		return 0, false
	}
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	if len(num) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range num {
		u = u*10 + uint64(c-'0')
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true // -u wraps to MinInt64 for 1<<63
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	}
	return 0, false
}

// literal checks true, false or null at p[i].
func literal(p []byte, i int) (int, error) {
	var want string
	switch p[i] {
	case 't':
		want = "true"
	case 'f':
		want = "false"
	default:
		want = "null"
	}
	for k := 1; k < len(want); k++ {
		if i+k >= len(p) || p[i+k] != want[k] {
			return 0, errSyntax(p, i+k, "in literal "+want)
		}
	}
	return i + len(want), nil
}

// skipValue checks the value at p[i] without keeping it and returns the
// offset after it.
func skipValue(p []byte, i, depth int) (int, error) {
	if i >= len(p) {
		return 0, errSyntax(p, i, "")
	}
	switch c := p[i]; {
	case c == '"':
		return skipString(p, i)
	case c == '-' || (c >= '0' && c <= '9'):
		end, _, err := scanNumber(p, i)
		return end, err
	case c == 't' || c == 'f' || c == 'n':
		return literal(p, i)
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return 0, &depthError{off: i}
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(p, i+1)
		if i < len(p) && p[i] == closer {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= len(p) || p[i] != '"' {
					return 0, errSyntax(p, i, "looking for beginning of object key string")
				}
				if i, err = skipString(p, i); err != nil {
					return 0, err
				}
				if i = skipWS(p, i); i >= len(p) || p[i] != ':' {
					return 0, errSyntax(p, i, "after object key")
				}
				i = skipWS(p, i+1)
			}
			if i, err = skipValue(p, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(p, i)
			if i < len(p) && p[i] == ',' {
				i = skipWS(p, i+1)
				continue
			}
			if i < len(p) && p[i] == closer {
				return i + 1, nil
			}
			if c == '{' {
				return 0, errSyntax(p, i, "after object key:value pair")
			}
			return 0, errSyntax(p, i, "after array element")
		}
	}
	return 0, errSyntax(p, i, "looking for beginning of value")
}

// skipString checks the string at the quote p[i] and returns the offset
// after its closing quote.
func skipString(p []byte, i int) (int, error) {
	i++
	for {
		i += plainRun(p, i)
		if i >= len(p) {
			return 0, errSyntax(p, i, "")
		}
		switch c := p[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return 0, errSyntax(p, i, "in string literal")
		case c >= 0x80:
			i++
		default: // backslash
			if i+1 >= len(p) {
				return 0, errSyntax(p, i+1, "")
			}
			switch p[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(p, i+2); !ok {
					return 0, errSyntax(p, i+1, "in \\u escape")
				}
				i += 6
			default:
				return 0, errSyntax(p, i+1, "in string escape code")
			}
		}
	}
}
