package union_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/sources/union"
)

// bytesIdentifier is a member whose identity is not JSON.
type bytesIdentifier struct {
	fakeSource
	id      []byte
	resumed [][]byte
}

func (s *bytesIdentifier) Identity() []byte { return s.id }
func (s *bytesIdentifier) Resume(prev []byte) error {
	s.resumed = append(s.resumed, prev)
	if string(prev) != string(s.id) {
		return errors.New("bytes: another identity")
	}
	return nil
}

func TestResume(t *testing.T) {
	gen := func(seed, events int64) *generator.Source {
		return mustGen(t, generator.Config{Shards: 2, Events: events, Seed: seed})
	}
	taken := mustUnion(t, union.Member{Name: "a", Source: gen(1, 100)}, union.Member{Name: "b", Source: gen(2, 100)}).Identity()
	tests := []struct {
		name    string
		members []union.Member
		want    string // "" for accepted
	}{
		{"same members", []union.Member{{Name: "a", Source: gen(1, 100)}, {Name: "b", Source: gen(2, 100)}}, ""},
		{"a member's input grew", []union.Member{{Name: "a", Source: gen(1, 100)}, {Name: "b", Source: gen(2, 500)}}, ""},
		{"member added", []union.Member{{Name: "a", Source: gen(1, 100)}, {Name: "b", Source: gen(2, 100)}, {Name: "c", Source: gen(3, 100)}},
			"had members a (generator), b (generator), this one has a (generator), b (generator), c (generator) (added c)"},
		{"member removed", []union.Member{{Name: "a", Source: gen(1, 100)}},
			"this one has a (generator) (removed b)"},
		{"member renamed", []union.Member{{Name: "a", Source: gen(1, 100)}, {Name: "c", Source: gen(2, 100)}}, "(added c, removed b)"},
		{"members reordered", []union.Member{{Name: "b", Source: gen(2, 100)}, {Name: "a", Source: gen(1, 100)}}, "(reordered)"},
		{"member of another kind", []union.Member{{Name: "a", Source: gen(1, 100)}, {Name: "b", Source: &fakeSource{name: "kinesis"}}},
			"(b is a kinesis source now, was generator)"},
		{"a member's own identity changed", []union.Member{{Name: "a", Source: gen(1, 100)}, {Name: "b", Source: gen(3, 100)}},
			`union member "b": pipeline: checkpoint was taken of another input (another generator): --seed 3 (was 2)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mustUnion(t, tc.members...).Resume(taken)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Resume = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, pipeline.ErrIncompatibleSource) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Resume = %v\nwant one line wrapping ErrIncompatibleSource containing %q", err, tc.want)
			}
			t.Logf("refused: %v", err)
		})
	}
	for _, prev := range []string{"", `{"stream":"clicks"}`, `{"v":2,"members":[]}`, "not json"} {
		var b []byte
		if prev != "" {
			b = []byte(prev)
		}
		if err := mustUnion(t, union.Member{Name: "a", Source: gen(1, 100)}).Resume(b); !errors.Is(err, pipeline.ErrIncompatibleSource) {
			t.Errorf("Resume(%q) = %v, want ErrIncompatibleSource", prev, err)
		}
	}
}

// A member's identity that is not JSON is kept byte for byte.
func TestResumeGivesEachMemberItsOwnIdentity(t *testing.T) {
	m := &bytesIdentifier{fakeSource: fakeSource{name: "custom"}, id: []byte{0xff, 0, '"', '\n'}}
	g := mustGen(t, generator.Config{Events: 10, Seed: 4})
	u := mustUnion(t, union.Member{Name: "g", Source: g}, union.Member{Name: "c", Source: m}, union.Member{Name: "plain", Source: &fakeSource{name: "fake"}})
	if err := u.Resume(u.Identity()); err != nil {
		t.Fatal(err)
	}
	if len(m.resumed) != 1 || string(m.resumed[0]) != string(m.id) {
		t.Errorf("member resumed with %q, want %q", m.resumed, m.id)
	}
	taken := u.Identity()
	m.id = []byte("other")
	if err := u.Resume(taken); err == nil || !strings.Contains(err.Error(), `union member "c": bytes: another identity`) {
		t.Errorf("Resume after the member's identity changed: %v", err)
	}
}
