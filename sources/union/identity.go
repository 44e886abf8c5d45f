package union

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shardflow/shardflow/pipeline"
)

// identity is what a checkpoint records of a union (version 1): its members
// in order.
type identity struct {
	V       int              `json:"v"`
	Members []memberIdentity `json:"members"`
}

// memberIdentity is one member: its name, its kind (Source.Name) and, for a
// member that implements pipeline.Identifier, its identity, as JSON when it
// is JSON (every shardflow source's is) and as bytes otherwise.
type memberIdentity struct {
	Name     string          `json:"name"`
	Kind     string          `json:"kind"`
	Identity json.RawMessage `json:"identity,omitempty"`
	Bytes    []byte          `json:"identity_bytes,omitempty"`
}

// raw is the member's own identity; nil when it has none.
func (m memberIdentity) raw() []byte {
	if m.Identity != nil {
		return m.Identity
	}
	return m.Bytes
}

func (m memberIdentity) String() string { return fmt.Sprintf("%s (%s)", m.Name, m.Kind) }

// Identity implements pipeline.Identifier: the members in order, each with
// its name, kind and own identity, as JSON. It is safe to call while shards
// are read as far as the members' Identity is.
func (s *Source) Identity() []byte {
	id := identity{V: 1, Members: make([]memberIdentity, len(s.members))}
	for i, m := range s.members {
		mi := memberIdentity{Name: m.Name, Kind: m.Source.Name()}
		if ider, ok := m.Source.(pipeline.Identifier); ok {
			if b := ider.Identity(); json.Valid(b) {
				mi.Identity = b
			} else {
				mi.Bytes = b
			}
		}
		id.Members[i] = mi
	}
	b, _ := json.Marshal(id) // valid JSON, strings and bytes always marshal
	return b
}

// Resume implements pipeline.Identifier. It refuses a checkpoint of a union
// whose members were others: a member added, removed, renamed or moved, or a
// member of another kind under the same name. It then gives each member that
// implements pipeline.Identifier the identity the checkpoint recorded for it,
// so that the member refuses another input of its own (another seed, a
// replaced file, another stream) or adopts what it needs. A checkpoint
// without an identity is refused: a union always records one.
func (s *Source) Resume(prev []byte) error {
	if prev == nil {
		return fmt.Errorf("%w: the checkpoint records no union members, this union has %s; "+
			"run the job it was taken of, or start over with a new checkpoint directory and --overwrite",
			pipeline.ErrIncompatibleSource, list(s.current()))
	}
	var was identity
	if err := json.Unmarshal(prev, &was); err != nil || was.V != 1 {
		return fmt.Errorf("%w: the checkpoint's source is not a union this version knows (%q); start over with a new checkpoint directory and --overwrite",
			pipeline.ErrIncompatibleSource, truncate(prev, 80))
	}
	now := s.current()
	if what := changed(was.Members, now); what != "" {
		return fmt.Errorf("%w: the checkpoint's union had members %s, this one has %s (%s); "+
			"run with the members the checkpoint had, in that order, or start over with a new checkpoint directory and --overwrite",
			pipeline.ErrIncompatibleSource, list(was.Members), list(now), what)
	}
	for i, m := range s.members {
		ider, ok := m.Source.(pipeline.Identifier)
		if !ok {
			continue
		}
		if err := ider.Resume(was.Members[i].raw()); err != nil {
			return fmt.Errorf("union member %q: %w", m.Name, err)
		}
	}
	return nil
}

// current is the members' names and kinds, without their identities.
func (s *Source) current() []memberIdentity {
	out := make([]memberIdentity, len(s.members))
	for i, m := range s.members {
		out[i] = memberIdentity{Name: m.Name, Kind: m.Source.Name()}
	}
	return out
}

// changed says how the members now differ from the members then, by name
// and kind: "" when they are the same in the same order.
func changed(was, now []memberIdentity) string {
	wasNames, nowNames := nameList(was), nameList(now)
	var what []string
	for _, m := range now {
		if !slices.Contains(wasNames, m.Name) {
			what = append(what, "added "+m.Name)
		}
	}
	for _, m := range was {
		if !slices.Contains(nowNames, m.Name) {
			what = append(what, "removed "+m.Name)
		}
	}
	for _, m := range now {
		if i := slices.Index(wasNames, m.Name); i >= 0 && was[i].Kind != m.Kind {
			what = append(what, fmt.Sprintf("%s is a %s source now, was %s", m.Name, m.Kind, was[i].Kind))
		}
	}
	if len(what) == 0 && !slices.Equal(wasNames, nowNames) {
		what = append(what, "reordered")
	}
	return strings.Join(what, ", ")
}

func nameList(ms []memberIdentity) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

func list(ms []memberIdentity) string {
	if len(ms) == 0 {
		return "no members"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
