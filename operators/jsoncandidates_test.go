package operators

// The JSON libraries that JSON's decoder was chosen from, each walking a
// record's keys without a struct into the same decoder slots and builders,
// plus goccy/go-json's struct decoding as a reference point. See
// BenchmarkDecodeJSONCandidates.

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/bytedance/sonic/ast"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/buger/jsonparser"
	goccy "github.com/goccy/go-json"
	"github.com/valyala/fastjson"
)

var errCandidate = errors.New("candidate: bad record")

// jsonparserWalker walks with buger/jsonparser's ObjectEach.
type jsonparserWalker struct {
	d       *decoder
	scratch []byte
}

func (w *jsonparserWalker) decode(payload []byte) error {
	d := w.d
	d.begin()
	w.scratch = w.scratch[:0]
	err := jsonparser.ObjectEach(payload, func(key, value []byte, t jsonparser.ValueType, _ int) error {
		i := d.lookup(key)
		if i < 0 {
			return nil
		}
		s := &d.slots[i]
		if t == jsonparser.Null {
			s.state = slotNull
			return nil
		}
		switch d.fields[i].kind {
		case kindString, kindTimestamp:
			if t != jsonparser.String {
				return errCandidate
			}
			start := len(w.scratch)
			out, err := jsonparser.Unescape(value, w.scratch[start:cap(w.scratch)])
			if err != nil {
				return err
			}
			if d.fields[i].kind == kindTimestamp {
				ms, ok := parseRFC3339Millis(out)
				if !ok {
					return errCandidate
				}
				s.i = ms
			} else {
				s.l = d.cols[i].stage(out)
				if len(out) > 0 && &out[0] == unsafe.SliceData(w.scratch[start:cap(w.scratch)]) {
					w.scratch = w.scratch[:start+len(out)]
				}
			}
		case kindFloat64:
			f, err := jsonparser.ParseFloat(value)
			if err != nil {
				return err
			}
			s.f = f
		case kindInt64:
			n, err := jsonparser.ParseInt(value)
			if err != nil {
				return err
			}
			s.i = n
		case kindBool:
			b, err := jsonparser.ParseBoolean(value)
			if err != nil {
				return err
			}
			s.b = b
		}
		s.state = slotSet
		return nil
	})
	if err != nil {
		return err
	}
	return d.end()
}

// fastjsonWalker walks with valyala/fastjson's reused Parser and
// Object.Visit.
type fastjsonWalker struct {
	d *decoder
	p fastjson.Parser
}

func (w *fastjsonWalker) decode(payload []byte) error {
	v, err := w.p.ParseBytes(payload)
	if err != nil {
		return err
	}
	obj, err := v.Object()
	if err != nil {
		return err
	}
	d := w.d
	d.begin()
	var bad error
	obj.Visit(func(key []byte, v *fastjson.Value) {
		i := d.lookup(key)
		if i < 0 || bad != nil {
			return
		}
		s := &d.slots[i]
		if v.Type() == fastjson.TypeNull {
			s.state = slotNull
			return
		}
		switch d.fields[i].kind {
		case kindString:
			var b []byte
			b, bad = v.StringBytes()
			s.l = d.cols[i].stage(b)
		case kindInt64:
			s.i, bad = v.Int64()
		case kindFloat64:
			s.f, bad = v.Float64()
		case kindBool:
			s.b, bad = v.Bool()
		case kindTimestamp:
			b, err := v.StringBytes()
			ms, ok := parseRFC3339Millis(b)
			if err != nil || !ok {
				bad = errCandidate
			}
			s.i = ms
		}
		s.state = slotSet
	})
	if bad != nil {
		return bad
	}
	return d.end()
}

// clickEvent is the struct goccy/go-json decodes into (the reference only:
// the operator cannot know a struct for a schema declared at run time).
type clickEvent struct {
	EventID   string   `json:"event_id"`
	UserID    string   `json:"user_id"`
	SessionID string   `json:"session_id"`
	EventType string   `json:"event_type"`
	Page      string   `json:"page"`
	Referrer  string   `json:"referrer"`
	TS        string   `json:"ts"`
	Price     *float64 `json:"price"`
}

func BenchmarkDecodeJSONCandidates(b *testing.B) {
	events, size := benchEvents()
	fields, err := jsonFields(clickSchema, []string{"ts"})
	if err != nil {
		b.Fatal(err)
	}
	walkers := []struct {
		name string
		new  func(d *decoder) func([]byte) error
	}{
		{"scanner", func(d *decoder) func([]byte) error { return (&scanner{d: d}).decode }},
		{"fastjson", func(d *decoder) func([]byte) error { return (&fastjsonWalker{d: d}).decode }},
		{"jsonparser", func(d *decoder) func([]byte) error {
			return (&jsonparserWalker{d: d, scratch: make([]byte, 0, 64<<10)}).decode
		}},
		{"sonic", func(d *decoder) func([]byte) error { return (&sonicWalker{d: d}).decode }},
	}
	for _, w := range walkers {
		b.Run(w.name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			d := newDecoder(clickSchema, fields)
			decode := w.new(d)
			b.SetBytes(int64(size))
			m := meter(b, benchBatch)
			for b.Loop() {
				d.reserve(len(events))
				for _, e := range events {
					if err := decode(e); err != nil {
						b.Fatal(err)
					}
					d.commit()
				}
				rec := d.build(mem, clickSchema)
				if rec.NumRows() != benchBatch {
					b.Fatalf("%d rows", rec.NumRows())
				}
				rec.Release()
			}
			m.report()
		})
	}
	b.Run("goccy-struct", func(b *testing.B) {
		rb := array.NewRecordBuilder(memory.NewGoAllocator(), clickSchema)
		defer rb.Release()
		strs := make([]*array.StringBuilder, 6)
		for i := range strs {
			strs[i] = rb.Field(i).(*array.StringBuilder)
		}
		tsb := rb.Field(6).(*array.TimestampBuilder)
		pb := rb.Field(7).(*array.Float64Builder)
		b.SetBytes(int64(size))
		m := meter(b, benchBatch)
		for b.Loop() {
			for _, e := range events {
				var ev clickEvent
				if err := goccy.Unmarshal(e, &ev); err != nil {
					b.Fatal(err)
				}
				strs[0].Append(ev.EventID)
				strs[1].Append(ev.UserID)
				strs[2].Append(ev.SessionID)
				strs[3].Append(ev.EventType)
				strs[4].Append(ev.Page)
				strs[5].Append(ev.Referrer)
				ms, ok := parseRFC3339Millis([]byte(ev.TS))
				if !ok {
					b.Fatal("bad ts")
				}
				tsb.Append(arrow.Timestamp(ms))
				if ev.Price != nil {
					pb.Append(*ev.Price)
				} else {
					pb.AppendNull()
				}
			}
			rb.NewRecordBatch().Release()
		}
		m.report()
	})
	b.Run("goccy-struct-only", func(b *testing.B) {
		b.SetBytes(int64(size))
		m := meter(b, benchBatch)
		for b.Loop() {
			for _, e := range events {
				var ev clickEvent
				if err := goccy.Unmarshal(e, &ev); err != nil {
					b.Fatal(err)
				}
			}
		}
		m.report()
	})
}

// bytedance/sonic: ast.Preorder calls a visitor per token.

// errSonicStop ends a walk early; the reason is in the decoder.
var errSonicStop = errors.New("operators: json: stop")

// sonicWalker is the ast.Visitor that fills a decoder's slots from one record.
type sonicWalker struct {
	d     *decoder
	err   error // why the record was rejected
	depth int   // open objects and arrays
	field int   // the declared field whose value comes next, or -1
	top   byte

	// Where the last token seen ends in the payload, and the depth there; the
	// trailing check scans from there (see checkEnd).
	base, size uintptr
	end        int
	endDepth   int
}

var _ ast.Visitor = (*sonicWalker)(nil)

// decode parses payload into the decoder's slots.
func (w *sonicWalker) decode(payload []byte) error {
	d := w.d
	d.begin()
	w.err = nil
	w.depth, w.field, w.top = 0, -1, 0
	w.base, w.size = uintptr(unsafe.Pointer(unsafe.SliceData(payload))), uintptr(len(payload))
	w.end, w.endDepth = 0, 0
	err := ast.Preorder(unsafe.String(unsafe.SliceData(payload), len(payload)), w, nil)
	switch {
	case err == errSonicStop:
		if w.err != nil {
			return w.err
		}
		return fmt.Errorf("json: record is %s, not an object", kindOfTop(w.top))
	case err != nil:
		return fmt.Errorf("json: invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: error when parsing input: "))
	}
	if err := checkEnd(payload, w.end, w.endDepth); err != nil {
		return err
	}
	return d.end()
}

// track notes that a token, a substring s of the payload, was seen, ending
// extra bytes after s (the closing quote of a string).
func (w *sonicWalker) track(s string, extra int) {
	if len(s) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	if p < w.base || p+uintptr(len(s)) > w.base+w.size {
		return // an unescaped copy, not in the payload
	}
	w.end = int(p-w.base) + len(s) + extra
	w.endDepth = w.depth
}

// checkEnd makes sure nothing but white space follows the record's object:
// Preorder stops after the first value. From the last tracked token (at
// depth, outside any string) it finds where the outer object closes.
func checkEnd(payload []byte, from, depth int) error {
	inString, escaped := false, false
	for i := from; i < len(payload); i++ {
		c := payload[i]
		if depth == 0 {
			switch c {
			case ' ', '\t', '\n', '\r':
				continue
			}
			return fmt.Errorf("json: invalid JSON: data after the object at offset %d", i)
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// value returns the slot of the field whose value is being visited, or nil
// for a value the decoder ignores; at the top level it stops the walk.
func (w *sonicWalker) value(c byte) (*slot, error) {
	switch {
	case w.depth == 0:
		w.top = c
		return nil, errSonicStop
	case w.depth != 1 || w.field < 0:
		return nil, nil
	}
	return &w.d.slots[w.field], nil
}

func (w *sonicWalker) reject(reason string) error {
	w.err = w.d.rejectErr(w.field, reason)
	return errSonicStop
}

func (w *sonicWalker) wrongType(got string) error {
	w.err = w.d.wrongType(w.field, got)
	return errSonicStop
}

func (w *sonicWalker) OnNull() error {
	s, err := w.value('n')
	if s != nil {
		s.state = slotNull
	}
	return err
}

func (w *sonicWalker) OnBool(v bool) error {
	s, err := w.value('t')
	if s == nil {
		return err
	}
	if w.d.fields[w.field].kind != kindBool {
		return w.wrongType("a bool")
	}
	s.b, s.state = v, slotSet
	return nil
}

func (w *sonicWalker) OnString(v string) error {
	s, err := w.value('"')
	if s == nil {
		return err
	}
	w.track(v, 1)
	b := unsafe.Slice(unsafe.StringData(v), len(v))
	switch w.d.fields[w.field].kind {
	case kindString:
		if !utf8.Valid(b) {
			return w.reject("string is not valid UTF-8")
		}
		s.l = w.d.cols[w.field].stage(b)
	case kindTimestamp:
		ms, ok := parseRFC3339Millis(b)
		if !ok {
			return w.reject("cannot parse " + strconv.Quote(clip(v)) + " as an RFC 3339 time")
		}
		s.i = ms
	default:
		return w.wrongType("a string")
	}
	s.state = slotSet
	return nil
}

func (w *sonicWalker) OnInt64(v int64, n json.Number) error {
	s, err := w.value('0')
	if s == nil {
		return err
	}
	w.track(string(n), 0)
	switch w.d.fields[w.field].kind {
	case kindInt64, kindTimestamp:
		s.i = v
	case kindFloat64:
		s.f = float64(v)
	default:
		return w.wrongType("a number")
	}
	s.state = slotSet
	return nil
}

func (w *sonicWalker) OnFloat64(v float64, n json.Number) error {
	s, err := w.value('0')
	if s == nil {
		return err
	}
	w.track(string(n), 0)
	switch w.d.fields[w.field].kind {
	case kindFloat64:
		s.f = v
	case kindInt64:
		return w.reject("number " + clip(string(n)) + " is not an int64")
	case kindTimestamp:
		return w.reject("number " + clip(string(n)) + " is not an integer of epoch milliseconds")
	default:
		return w.wrongType("a number")
	}
	s.state = slotSet
	return nil
}

func (w *sonicWalker) OnObjectKey(key string) error {
	if w.depth == 1 {
		w.track(key, 1)
		w.field = w.d.lookup(unsafe.Slice(unsafe.StringData(key), len(key)))
	}
	return nil
}

func (w *sonicWalker) OnObjectBegin(int) error {
	if w.depth == 0 {
		w.depth++
		return nil
	}
	return w.container("an object")
}

func (w *sonicWalker) OnArrayBegin(int) error {
	if w.depth == 0 {
		w.top = '['
		return errSonicStop
	}
	return w.container("an array")
}

// container handles a nested object or array: the wrong type for a declared
// field, skipped (without callbacks) under a key the schema does not know.
func (w *sonicWalker) container(what string) error {
	if w.depth == 1 && w.field >= 0 {
		return w.wrongType(what)
	}
	w.depth++ // Preorder calls the End method after skipping
	return ast.VisitOPSkip
}

func (w *sonicWalker) OnObjectEnd() error { w.depth--; return nil }
func (w *sonicWalker) OnArrayEnd() error  { w.depth--; return nil }
