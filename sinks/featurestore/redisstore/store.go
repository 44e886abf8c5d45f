// Package redisstore keeps a feature view's rows in Redis
// (redis://[:PASSWORD@]HOST:PORT/DB), with go-redis v9.
//
// # Layout (native)
//
// One hash per entity and view:
//
//	key     <view>:<entity>             e.g. user_features:u-42
//	fields  _ts                         the row's event time, Unix ms, decimal
//	        _rev                        the row's revision, decimal
//	        <feature>                   the value as a string: integers and
//	                                    timestamps (Unix ms) in decimal, floats
//	                                    in the shortest form that reads back
//	                                    exactly; a null value has no field
//
// so `HGETALL user_features:u-42` shows a user's features. With a TTL, the key
// expires (EXPIREAT) at the row's event time plus the TTL, and Get never
// returns an expired row.
//
// # Never back in time
//
// Each entity's write is one Lua script that compares the stored _ts and _rev
// with the row's and rewrites the hash only when the row's is not older, so a replay
// or a restart that writes old rows again is a no-op where newer ones are
// stored, whatever the interleaving of writers. Put sends its rows in
// pipelines of PipelineRows scripts.
//
// # Layout (feast)
//
// With layout=feast&project=NAME the store writes Feast's Redis online
// layout (feast-dev/feast sdk/python/feast/infra/online_stores/redis.py; the
// encodings are in package feast), so a Feast feature server with the same
// project, feature view and entity_key_serialization_version 3 reads the rows
// with no copy job:
//
//	key     EntityKey(<entity join key>=<entity>) + <project>   one hash per
//	                                    entity and project, shared by the
//	                                    project's views of that entity
//	fields  murmur3_32("<view>:<feature>"), 4 bytes LE   the feast.types.Value
//	                                    protobuf; a null is the empty Value
//	                                    (Feast's None), written all the same
//	        _ts:<view>                  google.protobuf.Timestamp of the event
//	                                    time (milliseconds in nanos)
//	        _rev:<view>                 the revision, decimal: shardflow's own;
//	                                    Feast reads with HMGET of the fields
//	                                    above and never sees it
//
// Timestamp features are Value.unix_timestamp_val, whole seconds (truncated
// toward zero, as Feast's int(datetime.timestamp()) does), so they read back
// without their milliseconds; the event time keeps them. Get reads with HMGET
// of the view's fields, as Feast does; a missing field is a null.
//
// The compare-and-set is one Lua script per entity, as in the native layout,
// but it reads the stored event time from the Timestamp protobuf in
// _ts:<view> itself, so a row Feast's own materialization wrote is compared
// too (its revision is 0: it has no _rev field). Feast skips a write whose
// timestamp equals the stored one; shardflow replaces at an equal (event
// time, revision), as every store does. The script sets only this view's
// fields and leaves the other views' alone (Feast's HSET does the same).
//
// Expiry: Feast's key_ttl_seconds EXPIREs the whole key from the time of each
// write, so the last writer of any view decides when every view of the key
// goes. Here a view with a TTL moves the key's expiry (PEXPIREAT) to its
// row's event time + TTL only when that is later than the key's current
// expiry, and never gives an expiry to a key that existed without one; a
// view without a TTL removes the key's expiry (PERSIST). So no view's row
// goes before its own TTL, and a row may outlive its TTL while another view
// keeps the key; Get never returns it then. The script reads the key's
// expiry with PTTL and TIME, so it runs on Redis 5 and later.
//
// Feast's delete_table (feast apply dropping the view) removes the key, or
// only Feast's fields of the view when other views share it; the _rev:<view>
// field then stays, unread, until a later row of the view rewrites it.
package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardflow/shardflow/sinks/featurestore"
)

// PipelineRows is how many entities' writes one pipeline carries.
const PipelineRows = 500

// put replaces the hash KEYS[1] by the field-value pairs ARGV[4:] when
// ARGV[1], ARGV[2] (the row's event time, Unix ms, and revision) are not
// older than its stored _ts, _rev; ARGV[3] is the Unix time in ms at which
// the key expires (0: never). Lua numbers are doubles, exact for Unix
// milliseconds and revisions below 2^53.
var put = redis.NewScript(`
local old = redis.call('HMGET', KEYS[1], '_ts', '_rev')
if old[1] then
  local ts, rev = tonumber(old[1]), tonumber(old[2] or '0')
  local nts, nrev = tonumber(ARGV[1]), tonumber(ARGV[2])
  if ts > nts or (ts == nts and rev > nrev) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '_ts', ARGV[1], '_rev', ARGV[2], unpack(ARGV, 4))
if ARGV[3] ~= '0' then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1
`)

// Store is a feature view in Redis.
type Store struct {
	view   featurestore.View
	client *redis.Client
	script *redis.Script // put or putFeast
	// feast is the Feast layout's names; nil in the native layout.
	feast *feastLayout
}

var _ featurestore.Store = (*Store)(nil)

// Open connects to the Redis server of loc and checks that it answers.
func Open(ctx context.Context, loc featurestore.Location, view featurestore.View) (*Store, error) {
	if loc.Scheme != "redis" {
		return nil, fmt.Errorf("redisstore: %s is not a redis:// URL", loc)
	}
	if err := loc.Unknown(); err != nil {
		return nil, err
	}
	if err := view.Validate(); err != nil {
		return nil, err
	}
	opts, err := redis.ParseURL("redis://" + loc.Target) // without layout and project, which are not go-redis options
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", loc, err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redisstore: %s: %w", loc, err)
	}
	s := &Store{view: view, client: c, script: put}
	if loc.Layout == featurestore.Feast {
		s.feast, s.script = newFeastLayout(loc.Project, view), putFeast
	}
	if err := s.script.Load(ctx, c).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redisstore: %s: loading the write script: %w", loc, err)
	}
	return s, nil
}

func (s *Store) key(entity string) string { return s.view.Name + ":" + entity }

// Put implements featurestore.Store.
func (s *Store) Put(ctx context.Context, rows []featurestore.Row) error {
	for len(rows) > 0 {
		n := min(len(rows), PipelineRows)
		if err := s.putPipeline(ctx, rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (s *Store) putPipeline(ctx context.Context, rows []featurestore.Row) error {
	send := s.send
	if s.feast != nil {
		send = s.sendFeast
	}
	err := send(ctx, rows)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		// The server lost its scripts (a restart, SCRIPT FLUSH): load the
		// script and send the rows once more.
		if err = s.script.Load(ctx, s.client).Err(); err == nil {
			err = send(ctx, rows)
		}
	}
	if err != nil {
		return fmt.Errorf("redisstore: put: %w", err)
	}
	return nil
}

// send writes rows in one pipeline of scripts.
func (s *Store) send(ctx context.Context, rows []featurestore.Row) error {
	p := s.client.Pipeline()
	cmds := make([]*redis.Cmd, len(rows))
	for i, r := range rows {
		expire := int64(0)
		if s.view.TTL > 0 {
			expire = r.EventTime + s.view.TTL.Milliseconds()
		}
		args := []any{r.EventTime, r.Revision, expire}
		for j, f := range s.view.Features {
			if v := r.Values[j]; !v.Null {
				args = append(args, f.Name, format(f.Type, v))
			}
		}
		cmds[i] = put.EvalSha(ctx, p, []string{s.key(r.Entity)}, args...)
	}
	return execScripts(ctx, p, cmds)
}

// execScripts sends the pipeline p of script calls cmds and returns the
// first error, of the pipeline or of a call.
func execScripts(ctx context.Context, p redis.Pipeliner, cmds []*redis.Cmd) error {
	if _, err := p.Exec(ctx); err != nil {
		return err
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

func format(t featurestore.Type, v featurestore.Value) string {
	switch t {
	case featurestore.Float64:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case featurestore.String:
		return v.Str
	}
	return strconv.FormatInt(v.Int, 10)
}

func parse(t featurestore.Type, s string) (featurestore.Value, error) {
	switch t {
	case featurestore.Float64:
		f, err := strconv.ParseFloat(s, 64)
		return featurestore.Value{Float: f}, err
	case featurestore.String:
		return featurestore.Value{Str: s}, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return featurestore.Value{Int: i}, err
}

// Get implements featurestore.Store.
func (s *Store) Get(ctx context.Context, entities []string) ([]*featurestore.Row, error) {
	if s.feast != nil {
		return s.getFeast(ctx, entities)
	}
	p := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(entities))
	for i, e := range entities {
		cmds[i] = p.HGetAll(ctx, s.key(e))
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	now := time.Now()
	out := make([]*featurestore.Row, len(entities))
	for i, c := range cmds {
		h := c.Val()
		ts, ok := h["_ts"]
		if !ok {
			continue
		}
		r := &featurestore.Row{Entity: entities[i], Values: make([]featurestore.Value, len(s.view.Features))}
		var err error
		if r.EventTime, err = strconv.ParseInt(ts, 10, 64); err != nil {
			return nil, fmt.Errorf("redisstore: %s: _ts %q: %w", s.key(entities[i]), ts, err)
		}
		if rev, ok := h["_rev"]; ok {
			if r.Revision, err = strconv.ParseInt(rev, 10, 64); err != nil {
				return nil, fmt.Errorf("redisstore: %s: _rev %q: %w", s.key(entities[i]), rev, err)
			}
		}
		if s.view.Expired(r.EventTime, now) {
			continue
		}
		for j, f := range s.view.Features {
			v, ok := h[f.Name]
			if !ok {
				r.Values[j].Null = true
				continue
			}
			if r.Values[j], err = parse(f.Type, v); err != nil {
				return nil, fmt.Errorf("redisstore: %s: field %s %q: %w", s.key(entities[i]), f.Name, v, err)
			}
		}
		out[i] = r
	}
	return out, nil
}

// Close implements featurestore.Store.
func (s *Store) Close() error { return s.client.Close() }
