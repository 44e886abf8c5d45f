package operators

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FuzzScanner checks the scanner against encoding/json: it accepts exactly
// the valid JSON objects whose declared fields have the declared types, and
// reads the same values.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{"s":"x","i":1,"f":1.5,"b":true,"ts":"2024-05-01T12:00:00Z"}`,
		`{"s":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800","x":[1,{"y":null}],"i":-0,"f":-1e-7}`,
		`{"i":9223372036854775807,"f":1E+2,"b":false}`,
		` {"s" : "é" , "t":{}} `,
		`{"f":-0}`, `{"s":"\ud800\u0041\udc00\ud83d\ude00"}`, `{"s":"a","\u0073":"\ufffd","s":"c"}`, `{"s":1,"s":"x"}`,
		`{"f":1e400}`, `{"f":1e-400}`, `{"i":-9223372036854775808}`, `{"i":1e2}`, "\ufeff{}", "{\"s\":\"\x00\"}",
		`{"x":` + strings.Repeat("[", 999) + strings.Repeat("]", 999) + `}`, `{"x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`,
		`{"s":"\u0000"}`, `{"i":01}`, `{"f":1.}`, `{"x":[1,]}`, `{"s":"x"} x`, `[]`, `"s"`, `{"a":tru}`, `{"s":"\x01"}`,
	} {
		f.Add([]byte(s))
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	fields, err := jsonFields(schema, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		d := newDecoder(schema, fields)
		d.reserve(1)
		sc := &scanner{d: d}
		err := sc.decode(p)

		valid := json.Valid(p)
		var m map[string]any
		// Decoding into m fails on valid JSON too (a number beyond
		// float64), so whether p is an object is read from its first byte.
		uerr := json.Unmarshal(p, &m)
		isObject := valid && bytes.TrimLeft(p, " \t\r\n")[0] == '{'
		if _, syntax := err.(*syntaxError); syntax && valid {
			t.Fatalf("%q: scanner: %v; encoding/json: valid", p, err)
		}
		if _, deep := err.(*depthError); deep {
			if valid && jsonDepth(p) <= maxDepth {
				t.Fatalf("%q: scanner: %v; nesting is %d", p, err, jsonDepth(p))
			}
			return // encoding/json allows 10000 levels; rejected either way
		}
		if !valid {
			if err == nil {
				t.Fatalf("%q: scanner accepts it; encoding/json: invalid", p)
			}
			return
		}
		if !isObject {
			if err == nil || !strings.Contains(err.Error(), "not an object") {
				t.Fatalf("%q: not an object, scanner says %v", p, err)
			}
			return
		}
		if uerr != nil {
			// encoding/json cannot read some number of p; the scanner
			// rejects it in a declared field (TestJSONRejects) and skips it
			// elsewhere, so there is no reference to compare values with.
			return
		}
		// With a repeated key the scanner checks every occurrence and
		// encoding/json only the last, so only an accepted record is
		// compared: both keep the last value.
		dup := duplicateKeys(p)
		// A valid object: rejected only for a field of the wrong type.
		want := map[string]any{}
		typesOK := true
		for _, name := range []string{"s", "i", "f", "b"} {
			v, ok := m[name]
			if !ok || v == nil {
				continue
			}
			switch name {
			case "s":
				sv, ok := v.(string)
				typesOK = typesOK && ok && utf8.ValidString(sv) && !strings.ContainsRune(sv, utf8.RuneError)
			case "i":
				var n json.Number
				dec := json.NewDecoder(strings.NewReader(string(p)))
				dec.UseNumber()
				var mm map[string]any
				if dec.Decode(&mm) == nil {
					n, _ = mm["i"].(json.Number)
				}
				iv, err := n.Int64()
				typesOK = typesOK && err == nil
				v = iv
			case "f":
				fv, ok := v.(float64)
				typesOK = typesOK && ok && !math.IsInf(fv, 0)
			case "b":
				_, ok := v.(bool)
				typesOK = typesOK && ok
			}
			want[name] = v
		}
		if err != nil {
			if typesOK && !dup {
				t.Fatalf("%q: scanner rejects it (%v); encoding/json reads %v", p, err, m)
			}
			return
		}
		if !typesOK {
			// encoding/json turns invalid UTF-8 and lone surrogates into
			// U+FFFD; the scanner keeps a decoded U+FFFD too.
			if sv, ok := m["s"].(string); !ok || !strings.ContainsRune(sv, utf8.RuneError) {
				t.Fatalf("%q: scanner accepts it; encoding/json reads %v", p, m)
			}
		}
		d.commit()
		rec := d.build(memory.NewGoAllocator(), schema)
		defer rec.Release()
		for c, name := range []string{"s", "i", "f", "b"} {
			col := rec.Column(c)
			w, ok := want[name]
			if !ok {
				if !col.IsNull(0) {
					t.Fatalf("%q: %s should be null, is %v", p, name, col.ValueStr(0))
				}
				continue
			}
			var got any
			switch a := col.(type) {
			case *array.String:
				got = a.Value(0)
			case *array.Int64:
				got = a.Value(0)
			case *array.Float64:
				got = a.Value(0)
			case *array.Boolean:
				got = a.Value(0)
			}
			// Every value the scanner accepts must be the one encoding/json
			// reads, U+FFFD from escapes included (raw invalid UTF-8 is
			// rejected, so it never reaches here), and floats bit for bit
			// (-0 is not 0).
			if gf, ok := got.(float64); ok {
				if wf, _ := w.(float64); math.Float64bits(gf) != math.Float64bits(wf) {
					t.Fatalf("%q: %s = %v, encoding/json reads %v", p, name, gf, wf)
				}
				continue
			}
			if got != w {
				t.Fatalf("%q: %s = %#v, encoding/json reads %#v", p, name, got, w)
			}
		}
	})
}

// jsonDepth is the deepest nesting of arrays and objects in the valid JSON p
// (the top-level object is level 1).
func jsonDepth(p []byte) int {
	dec := json.NewDecoder(strings.NewReader(string(p)))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// duplicateKeys reports whether the top-level object p repeats a key.
func duplicateKeys(p []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(p, &m) != nil {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(p)))
	if _, err := dec.Token(); err != nil { // {
		return false
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			return false
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
		n++
	}
	return n != len(m)
}
