package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/feast"
)

// putFeast sets the fields ARGV[8:] (pairs) of the hash KEYS[1] and the
// view's event time ARGV[1] (its _ts:<view> field) to the Timestamp bytes
// ARGV[7] and revision field ARGV[2] to ARGV[5] when the row's event time
// (ARGV[3] seconds, ARGV[4] nanos) and revision are not older than the
// stored ones; the stored event time is read from the Timestamp protobuf in
// _ts:<view> itself, so a row that Feast's own materialization wrote counts
// too (with revision 0 when there is no revision field). The key is shared
// with the project's other views of the entity, so other fields are left
// alone. ARGV[6] is the Unix ms at which this view's row expires, 0 for
// never: a view without a TTL makes the key persistent; one with a TTL moves
// the key's expiry later, never earlier, and leaves a key that existed
// without an expiry (another view's, or Feast's without key_ttl_seconds)
// persistent.
//
// The key's expiry is read with PTTL and TIME rather than Redis 7's
// PEXPIRETIME, so that the script runs on Redis 5 and later (it calls TIME
// before writing, which needs the effects replication of Redis 5). Lua
// numbers are doubles: exact for seconds, nanos and revisions below 2^53.
var putFeast = redis.NewScript(`
local function varint(b, i)
  local g = {}
  repeat
    local c = string.byte(b, i)
    if not c then error('feast: truncated varint in ' .. ARGV[1]) end
    i = i + 1
    g[#g + 1] = c % 128
  until c < 128
  local v, m = 0, 1
  if #g == 10 and g[10] % 2 == 1 then
    -- a negative int64: -(complement of the low 63 bits) - 1, exact for small magnitudes
    for k = 1, 9 do v = v + (127 - g[k]) * m; m = m * 128 end
    return -v - 1, i
  end
  for k = 1, #g do v = v + g[k] * m; m = m * 128 end
  return v, i
end
local function timestamp(b)
  local s, n, i = 0, 0, 1
  while i <= #b do
    local tag
    tag, i = varint(b, i)
    local f, w = math.floor(tag / 8), tag % 8
    if w == 0 then
      local v
      v, i = varint(b, i)
      if f == 1 then s = v elseif f == 2 then n = v end
    elseif w == 1 then i = i + 8
    elseif w == 5 then i = i + 4
    elseif w == 2 then
      local l
      l, i = varint(b, i)
      i = i + l
    else error('feast: bad wire type in ' .. ARGV[1]) end
  end
  return s, n
end
local old = redis.call('HMGET', KEYS[1], ARGV[1], ARGV[2])
if old[1] then
  local s, n = timestamp(old[1])
  local rev = tonumber(old[2] or '0') or 0
  local ns, nn, nrev = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  if s > ns or (s == ns and (n > nn or (n == nn and rev > nrev))) then return 0 end
end
local pttl = redis.call('PTTL', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[7], ARGV[2], ARGV[5], unpack(ARGV, 8))
local at = tonumber(ARGV[6])
if at == 0 then
  if pttl >= 0 then redis.call('PERSIST', KEYS[1]) end
elseif pttl == -2 then
  redis.call('PEXPIREAT', KEYS[1], at)
elseif pttl >= 0 then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + pttl < at then
    redis.call('PEXPIREAT', KEYS[1], at)
  end
end
return 1
`)

// revField is the hash field of a view's revision, which Feast does not
// read.
func revField(view string) string { return "_rev:" + view }

// feastLayout is the names of the Feast layout that do not depend on the
// entity.
type feastLayout struct {
	project string
	fields  []string // RedisField of each feature, as strings
	ts, rev string
}

func newFeastLayout(project string, view featurestore.View) *feastLayout {
	l := &feastLayout{project: project, ts: feast.RedisTimestampField(view.Name), rev: revField(view.Name)}
	for _, f := range view.Features {
		l.fields = append(l.fields, string(feast.RedisField(view.Name, f.Name)))
	}
	return l
}

func (s *Store) feastKey(entity string) string {
	return string(feast.RedisKey(s.feast.project, feast.EntityKey(s.view.Entity, entity)))
}

// sendFeast writes rows in one pipeline of putFeast scripts.
func (s *Store) sendFeast(ctx context.Context, rows []featurestore.Row) error {
	p := s.client.Pipeline()
	cmds := make([]*redis.Cmd, len(rows))
	for i, r := range rows {
		if len(r.Values) != len(s.view.Features) {
			return fmt.Errorf("entity %q has %d values for %d features", r.Entity, len(r.Values), len(s.view.Features))
		}
		expire := int64(0)
		if s.view.TTL > 0 {
			expire = r.EventTime + s.view.TTL.Milliseconds()
		}
		sec := r.EventTime / 1000
		if r.EventTime%1000 < 0 {
			sec--
		}
		nanos := (r.EventTime - sec*1000) * 1e6
		args := make([]any, 0, 7+2*len(s.view.Features))
		args = append(args, s.feast.ts, s.feast.rev, sec, nanos, r.Revision, expire, feast.EncodeTimestamp(r.EventTime))
		for j, f := range s.view.Features {
			// A null is the empty Value, which Feast reads as null; the
			// field is written all the same, so no older value stays.
			args = append(args, s.feast.fields[j], feast.EncodeValue(f.Type, r.Values[j]))
		}
		cmds[i] = putFeast.EvalSha(ctx, p, []string{s.feastKey(r.Entity)}, args...)
	}
	return execScripts(ctx, p, cmds)
}

// getFeast reads entities with one HMGET each of the view's fields, as Feast
// does.
func (s *Store) getFeast(ctx context.Context, entities []string) ([]*featurestore.Row, error) {
	fields := append(append([]string(nil), s.feast.fields...), s.feast.ts, s.feast.rev)
	p := s.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(entities))
	for i, e := range entities {
		cmds[i] = p.HMGet(ctx, s.feastKey(e), fields...)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	now := time.Now()
	n := len(s.view.Features)
	out := make([]*featurestore.Row, len(entities))
	for i, c := range cmds {
		vals := c.Val()
		ts, ok := vals[n].(string)
		if !ok {
			continue
		}
		bad := func(what string, err error) error {
			return fmt.Errorf("redisstore: project %s, view %s, entity %q: %s: %w", s.feast.project, s.view.Name, entities[i], what, err)
		}
		r := &featurestore.Row{Entity: entities[i], Values: make([]featurestore.Value, n)}
		var err error
		if r.EventTime, err = feast.DecodeTimestamp([]byte(ts)); err != nil {
			return nil, bad(s.feast.ts, err)
		}
		if rev, ok := vals[n+1].(string); ok {
			if r.Revision, err = strconv.ParseInt(rev, 10, 64); err != nil {
				return nil, bad(s.feast.rev, err)
			}
		}
		if s.view.Expired(r.EventTime, now) {
			continue
		}
		for j, f := range s.view.Features {
			v, ok := vals[j].(string)
			if !ok {
				r.Values[j].Null = true
				continue
			}
			if r.Values[j], err = feast.DecodeValue(f.Type, []byte(v)); err != nil {
				return nil, bad("feature "+f.Name, err)
			}
		}
		out[i] = r
	}
	return out, nil
}
