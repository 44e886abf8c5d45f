package operators

// The JSON libraries that JSON's decoder was chosen from, each walking a
// record's keys without a struct into the same decoder slots and builders,
// plus goccy/go-json's struct decoding as a reference point. See
// BenchmarkDecodeJSONCandidates.

import (
	"errors"
	"testing"
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
				s.s = out
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
			s.s, bad = v.StringBytes()
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
		{"fastjson", func(d *decoder) func([]byte) error { return (&fastjsonWalker{d: d}).decode }},
		{"jsonparser", func(d *decoder) func([]byte) error {
			return (&jsonparserWalker{d: d, scratch: make([]byte, 0, 64<<10)}).decode
		}},
		{"sonic", func(d *decoder) func([]byte) error { return (&walker{d: d}).decode }},
	}
	for _, w := range walkers {
		b.Run(w.name, func(b *testing.B) {
			rb := array.NewRecordBuilder(memory.NewGoAllocator(), clickSchema)
			defer rb.Release()
			d := newDecoder(fields, rb)
			decode := w.new(d)
			b.SetBytes(int64(size))
			m := meter(b, benchBatch)
			for b.Loop() {
				d.reserve(len(events), size)
				for _, e := range events {
					if err := decode(e); err != nil {
						b.Fatal(err)
					}
					d.commit()
				}
				d.learn()
				rec := rb.NewRecordBatch()
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
