// Package sqlitestore is the SQLite online feature store, the embedded
// default (sqlite://PATH), on the pure-Go modernc.org/sqlite driver.
//
// # Native layout
//
// One table per feature view, named after the view (quoted):
//
//	CREATE TABLE "<view>" (
//	  entity_id  TEXT PRIMARY KEY,       -- the entity's join-key value
//	  event_ts   INTEGER NOT NULL,       -- Unix ms of the newest record
//	  revision   INTEGER NOT NULL,       -- orders rows of one event_ts
//	  "<feature>" INTEGER|REAL|TEXT,     -- one per feature, in view order;
//	                                     -- int64 INTEGER, float64 REAL,
//	                                     -- string TEXT, timestamp INTEGER
//	                                     -- Unix ms; NULL for a null value
//	  expires_at INTEGER                 -- Unix ms, NULL without a TTL
//	)
//
// A Put is one transaction of INSERT ... ON CONFLICT(entity_id) DO UPDATE
// ... WHERE (excluded.event_ts, excluded.revision) >= (event_ts, revision)
// (written out as comparisons), so an older row never replaces a
// newer one, also across processes sharing the file. An existing table whose
// columns differ from the view is refused. Get skips expired rows; Put
// deletes expired rows at most once a minute, a bounded batch at a time.
// The database runs in WAL mode with a busy timeout, through one connection.
//
// # Feast layout
//
// With layout=feast&project=NAME the store writes the table of Feast's SQLite
// online store (feast-dev/feast sdk/python/feast/infra/online_stores/sqlite.py;
// the encodings are in package feast), so Feast configured with the same
// file (online_store path), project and feature view reads the rows with no
// copy job. The table is "<project>_<view>", one row per entity and feature:
//
//	CREATE TABLE "<project>_<view>" (      -- Feast's DDL, then two columns
//	  entity_key   BLOB,                   -- EntityKey (serialization v3)
//	  feature_name TEXT,
//	  value        BLOB,                   -- feast.types.Value protobuf; a
//	                                       -- null is the empty Value (X'')
//	  value_text   TEXT,                   -- Python str() of strings, ints
//	                                       -- and doubles; NULL otherwise
//	  vector_value BLOB,                   -- NULL
//	  event_ts     timestamp,              -- INTEGER Unix seconds
//	  created_ts   timestamp,              -- INTEGER Unix seconds of the Put
//	  shardflow_event_ms INTEGER,          -- the event time in Unix ms
//	  shardflow_revision INTEGER,          -- the revision
//	  PRIMARY KEY(entity_key, feature_name))
//
// with Feast's index "<project>_<view>_ek" on entity_key. Feast's read is a
// SELECT of entity_key, feature_name, value and event_ts, so it never sees
// shardflow's two columns; a table Feast created (feast apply) gets them by
// ALTER TABLE. Timestamp features are Value.unix_timestamp_val, whole seconds
// (truncated toward zero), so they read back without their milliseconds.
//
// Each feature's row is upserted ON CONFLICT(entity_key, feature_name) DO
// UPDATE ... WHERE the row's (event ms, revision) is not older than the
// stored one's, in one transaction per Put. The stored pair is shardflow's
// columns when they belong to the row's event_ts (shardflow_event_ms / 1000 =
// event_ts), else event_ts * 1000 and revision 0: Feast's own upsert leaves
// the columns it does not name, so after a Feast write they may be an older
// write's. Get reads the view's features of an entity; a feature without a
// row is null, and the row's event time is its features' newest. With a TTL,
// Put sweeps rows whose event time + TTL has passed, as in the native layout.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shardflow/shardflow/sinks/featurestore"
	_ "modernc.org/sqlite"
)

// Store is a featurestore.Store on a SQLite file.
type Store struct {
	db    *sql.DB
	view  featurestore.View
	table string
	put   string
	get   string
	// sweepSQL deletes up to 10,000 rows expired at ? (Unix ms); empty
	// without a TTL.
	sweepSQL string
	// feast is whether the store writes Feast's layout.
	feast bool

	mu        sync.Mutex
	lastSweep time.Time
}

var _ featurestore.Store = (*Store)(nil)

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sqlType(t featurestore.Type) string {
	switch t {
	case featurestore.Float64:
		return "REAL"
	case featurestore.String:
		return "TEXT"
	}
	return "INTEGER"
}

// Open opens (creating if needed) the store of view in the SQLite file
// loc.Target.
func Open(ctx context.Context, loc featurestore.Location, view featurestore.View) (*Store, error) {
	if loc.Scheme != "sqlite" {
		return nil, fmt.Errorf("sqlitestore: %s is not a sqlite:// URL", loc)
	}
	if err := loc.Unknown(); err != nil {
		return nil, err
	}
	if err := view.Validate(); err != nil {
		return nil, err
	}
	dsn := "file:" + loc.Target + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", loc, err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db, view: view, table: quote(view.Name), feast: loc.Layout == featurestore.Feast}
	if s.feast {
		err = s.initFeast(ctx, loc.Project)
	} else {
		err = s.init(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: %s: %w", loc, err)
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	cols := []string{"entity_id TEXT PRIMARY KEY", "event_ts INTEGER NOT NULL", "revision INTEGER NOT NULL"}
	names := []string{"entity_id", "event_ts", "revision"}
	types := []string{"TEXT", "INTEGER", "INTEGER"}
	for _, f := range s.view.Features {
		cols = append(cols, quote(f.Name)+" "+sqlType(f.Type))
		names = append(names, f.Name)
		types = append(types, sqlType(f.Type))
	}
	cols = append(cols, "expires_at INTEGER")
	names = append(names, "expires_at")
	types = append(types, "INTEGER")
	if _, err := s.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+s.table+" ("+strings.Join(cols, ", ")+")"); err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT name, type FROM pragma_table_info(?) ORDER BY cid", s.view.Name)
	if err != nil {
		return err
	}
	var have []string
	for rows.Next() {
		var n, t string
		if err := rows.Scan(&n, &t); err != nil {
			rows.Close()
			return err
		}
		have = append(have, n+" "+strings.ToUpper(t))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var want []string
	for i := range names {
		want = append(want, names[i]+" "+types[i])
	}
	if strings.Join(have, ", ") != strings.Join(want, ", ") {
		return fmt.Errorf("existing table %s has columns (%s), the view needs (%s)", s.table, strings.Join(have, ", "), strings.Join(want, ", "))
	}
	q := make([]string, len(names))
	set := make([]string, 0, len(names))
	for i, n := range names {
		q[i] = "?"
		if i > 0 {
			set = append(set, quote(n)+" = excluded."+quote(n))
		}
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = quote(n)
	}
	s.put = "INSERT INTO " + s.table + " (" + strings.Join(quoted, ", ") + ") VALUES (" + strings.Join(q, ", ") +
		") ON CONFLICT(entity_id) DO UPDATE SET " + strings.Join(set, ", ") +
		" WHERE excluded.event_ts > " + s.table + ".event_ts OR excluded.event_ts = " + s.table + ".event_ts AND excluded.revision >= " + s.table + ".revision"
	s.get = "SELECT " + strings.Join(quoted[1:len(quoted)-1], ", ") + " FROM " + s.table +
		" WHERE entity_id = ? AND (expires_at IS NULL OR expires_at >= ?)"
	if s.view.TTL > 0 {
		s.sweepSQL = "DELETE FROM " + s.table + " WHERE rowid IN (SELECT rowid FROM " + s.table + " WHERE expires_at < ? LIMIT 10000)"
	}
	return nil
}

// Put writes rows in one transaction; see featurestore.Store.
func (s *Store) Put(ctx context.Context, rows []featurestore.Row) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: put: %w", err)
	}
	defer tx.Rollback()
	if s.feast {
		if err := s.putFeast(ctx, tx, rows); err != nil {
			return fmt.Errorf("sqlitestore: put: %w", err)
		}
	} else if err := s.putNative(ctx, tx, rows); err != nil {
		return err
	}
	if err := s.sweep(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: put: %w", err)
	}
	return nil
}

func (s *Store) putNative(ctx context.Context, tx *sql.Tx, rows []featurestore.Row) error {
	st, err := tx.PrepareContext(ctx, s.put)
	if err != nil {
		return fmt.Errorf("sqlitestore: put: %w", err)
	}
	defer st.Close()
	args := make([]any, len(s.view.Features)+4)
	for _, r := range rows {
		if len(r.Values) != len(s.view.Features) {
			return fmt.Errorf("sqlitestore: put: row of %q has %d values, view %q has %d features", r.Entity, len(r.Values), s.view.Name, len(s.view.Features))
		}
		args[0], args[1], args[2] = r.Entity, r.EventTime, r.Revision
		for i, f := range s.view.Features {
			v := r.Values[i]
			switch {
			case v.Null:
				args[3+i] = nil
			case f.Type == featurestore.Float64:
				args[3+i] = v.Float
			case f.Type == featurestore.String:
				args[3+i] = v.Str
			default:
				args[3+i] = v.Int
			}
		}
		args[len(args)-1] = nil
		if s.view.TTL > 0 {
			args[len(args)-1] = r.EventTime + s.view.TTL.Milliseconds()
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("sqlitestore: put: %w", err)
		}
	}
	return nil
}

// sweep deletes at most 10,000 expired rows, at most once a minute.
func (s *Store) sweep(ctx context.Context, tx *sql.Tx) error {
	if s.sweepSQL == "" {
		return nil
	}
	s.mu.Lock()
	now := time.Now()
	due := now.Sub(s.lastSweep) >= time.Minute
	if due {
		s.lastSweep = now
	}
	s.mu.Unlock()
	if !due {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.sweepSQL, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlitestore: sweep: %w", err)
	}
	return nil
}

// Get reads the rows of entities; see featurestore.Store.
func (s *Store) Get(ctx context.Context, entities []string) ([]*featurestore.Row, error) {
	if s.feast {
		return s.getFeast(ctx, entities)
	}
	st, err := s.db.PrepareContext(ctx, s.get)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get: %w", err)
	}
	defer st.Close()
	now := time.Now()
	out := make([]*featurestore.Row, len(entities))
	n := len(s.view.Features)
	dest := make([]any, n+2)
	for i, e := range entities {
		var ts, rev int64
		vals := make([]any, n)
		dest[0], dest[1] = &ts, &rev
		for j := range vals {
			dest[j+2] = &vals[j]
		}
		err := st.QueryRowContext(ctx, e, now.UnixMilli()).Scan(dest...)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: get %q: %w", e, err)
		}
		if s.view.Expired(ts, now) {
			continue
		}
		r := &featurestore.Row{Entity: e, EventTime: ts, Revision: rev, Values: make([]featurestore.Value, n)}
		for j, f := range s.view.Features {
			switch x := vals[j].(type) {
			case nil:
				r.Values[j].Null = true
			case int64:
				if f.Type == featurestore.Float64 {
					r.Values[j].Float = float64(x)
				} else {
					r.Values[j].Int = x
				}
			case float64:
				r.Values[j].Float = x
			case string:
				r.Values[j].Str = x
			case []byte:
				r.Values[j].Str = string(x)
			default:
				return nil, fmt.Errorf("sqlitestore: get %q: feature %q: unexpected %T", e, f.Name, x)
			}
		}
		out[i] = r
	}
	return out, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }
