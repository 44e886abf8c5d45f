package union

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/shardflow/shardflow/pipeline"
)

// Name is the union's Source.Name.
const Name = "union"

// Separator separates a member's name from the member's own shard id in the
// union's shard ids.
const Separator = "/"

var (
	_ pipeline.Source          = (*Source)(nil)
	_ pipeline.Identifier      = (*Source)(nil)
	_ pipeline.TroubleReporter = (*Source)(nil)
	_ pipeline.ShardReader     = (*reader)(nil)
	_ pipeline.IdleReporter    = (*idleReader)(nil)
)

// ErrUnknownShard is returned by OpenShard for a shard id that names no
// member.
var ErrUnknownShard = errors.New("union: unknown shard")

// Member is one source of a union.
type Member struct {
	// Name prefixes the member's shard ids ("clicks" makes
	// "clicks/shardId-000"). It is part of the union's identity, so keep it
	// across restarts. Non-empty, without "/" or white space, unique in the
	// union.
	Name string
	// Source is the member's source.
	Source pipeline.Source
}

// Source reads the shards of all its members; see the package documentation.
// It is safe for concurrent use as far as its members are.
type Source struct {
	members []Member
	byName  map[string]pipeline.Source
}

// New returns the union of members, in that order: the order is part of the
// union's identity.
func New(members ...Member) (*Source, error) {
	if len(members) == 0 {
		return nil, errors.New("union: no members")
	}
	s := &Source{members: append([]Member(nil), members...), byName: make(map[string]pipeline.Source, len(members))}
	for i, m := range members {
		if err := validName(m.Name); err != nil {
			return nil, fmt.Errorf("union: member %d: %w", i, err)
		}
		if m.Source == nil {
			return nil, fmt.Errorf("union: member %q has no source", m.Name)
		}
		if _, dup := s.byName[m.Name]; dup {
			return nil, fmt.Errorf("union: two members named %q", m.Name)
		}
		s.byName[m.Name] = m.Source
	}
	return s, nil
}

func validName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.Contains(name, Separator):
		return fmt.Errorf("name %q contains %q", name, Separator)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("name %q contains white space or an unprintable character", name)
	}
	return nil
}

// ShardID is the union's id of shard id of member.
func ShardID(member, id string) string { return member + Separator + id }

// SplitShardID splits a union's shard id into the member's name and the
// member's shard id; ok is false when id has no member prefix.
func SplitShardID(id string) (member, shard string, ok bool) {
	member, shard, ok = strings.Cut(id, Separator)
	return member, shard, ok && member != ""
}

// Members returns the union's members, in order.
func (s *Source) Members() []Member { return append([]Member(nil), s.members...) }

// Name returns "union".
func (s *Source) Name() string { return Name }

// Bounded reports whether every member is bounded.
func (s *Source) Bounded() bool {
	for _, m := range s.members {
		if !m.Source.Bounded() {
			return false
		}
	}
	return true
}

// Shards lists every member's shards, member by member, with prefixed ids
// and prefixed parents. A member's error fails the listing (a Kinesis member
// that finds another stream than its checkpoint's refuses here).
func (s *Source) Shards(ctx context.Context) ([]pipeline.Shard, error) {
	var out []pipeline.Shard
	for _, m := range s.members {
		shards, err := m.Source.Shards(ctx)
		if err != nil {
			return nil, fmt.Errorf("union: member %q: %w", m.Name, err)
		}
		for _, sh := range shards {
			p := pipeline.Shard{ID: ShardID(m.Name, sh.ID)}
			if len(sh.Parents) > 0 {
				p.Parents = make([]string, len(sh.Parents))
				for i, parent := range sh.Parents {
					p.Parents[i] = ShardID(m.Name, parent)
				}
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// OpenShard opens the member's shard after position after, which the member
// interprets as it would alone. Its batches carry the prefixed shard id.
func (s *Source) OpenShard(ctx context.Context, shard pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	name, id, ok := SplitShardID(shard.ID)
	src := s.byName[name]
	if !ok || src == nil {
		return nil, fmt.Errorf("%w %q: no member %q (members: %s)", ErrUnknownShard, shard.ID, name, s.names())
	}
	inner := pipeline.Shard{ID: id}
	for _, parent := range shard.Parents {
		if pm, pid, ok := SplitShardID(parent); ok && pm == name {
			inner.Parents = append(inner.Parents, pid)
		}
	}
	r, err := src.OpenShard(ctx, inner, after)
	if err != nil {
		return nil, fmt.Errorf("union: member %q: %w", name, err)
	}
	ur := reader{r: r, id: shard.ID}
	if idler, ok := r.(pipeline.IdleReporter); ok {
		return &idleReader{reader: ur, idler: idler}, nil
	}
	return &ur, nil
}

// Trouble implements pipeline.TroubleReporter: the trouble of the members
// that report it, by prefixed shard id; nil when there is none.
func (s *Source) Trouble() map[string]string {
	var out map[string]string
	for _, m := range s.members {
		tr, ok := m.Source.(pipeline.TroubleReporter)
		if !ok {
			continue
		}
		for id, what := range tr.Trouble() {
			if out == nil {
				out = map[string]string{}
			}
			out[ShardID(m.Name, id)] = what
		}
	}
	return out
}

func (s *Source) names() string {
	names := make([]string, len(s.members))
	for i, m := range s.members {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// reader reads one member shard and gives its batches the union's shard id.
type reader struct {
	r  pipeline.ShardReader
	id string
}

// Read returns the member's batch under the union's shard id, and the
// member's errors as they are (ErrShardEnd and ErrBoundReached included).
func (r *reader) Read(ctx context.Context) (*pipeline.Batch, error) {
	b, err := r.r.Read(ctx)
	if b != nil {
		b.Shard = r.id
	}
	return b, err
}

// Close closes the member's reader.
func (r *reader) Close() error { return r.r.Close() }

// idleReader is a reader whose member reader reports idleness.
type idleReader struct {
	reader
	idler pipeline.IdleReporter
}

// Idle implements pipeline.IdleReporter: the member reader's idleness.
func (r *idleReader) Idle() bool { return r.idler.Idle() }
