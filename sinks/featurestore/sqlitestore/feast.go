package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/feast"
)

// The columns the Feast layout adds to Feast's table; Feast's SELECT names
// its own columns and never reads them.
const (
	colEventMs  = "shardflow_event_ms"
	colRevision = "shardflow_revision"
)

// feastColumns are the columns of Feast's table that the store writes or
// reads; Feast's CREATE TABLE has them all, and vector_value besides.
var feastColumns = []string{"entity_key", "feature_name", "value", "value_text", "event_ts", "created_ts"}

// storedMs and storedRev are SQL for the stored row's event time in ms and
// revision: shardflow's columns when they belong to the row's event_ts
// (seconds), else event_ts itself with revision 0, for a row Feast's own
// materialization wrote (its upsert leaves the columns it does not name, so
// they may be an older write's).
func storedMs(t string) string {
	return "(CASE WHEN " + t + "." + colEventMs + " / 1000 = " + t + ".event_ts THEN " + t + "." + colEventMs + " ELSE " + t + ".event_ts * 1000 END)"
}

func storedRev(t string) string {
	return "(CASE WHEN " + t + "." + colEventMs + " / 1000 = " + t + ".event_ts THEN coalesce(" + t + "." + colRevision + ", 0) ELSE 0 END)"
}

// initFeast creates Feast's table of the view (if missing), adds
// shardflow's two columns to a table Feast created, and prepares the SQL.
func (s *Store) initFeast(ctx context.Context, project string) error {
	name := feast.SQLiteTableName(project, s.view.Name)
	s.table = quote(name)
	// Feast's DDL (sqlite.py, update), with shardflow's columns.
	if _, err := s.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+s.table+" (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp, "+
		colEventMs+" INTEGER, "+colRevision+" INTEGER, PRIMARY KEY(entity_key, feature_name))"); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+quote(name+"_ek")+" ON "+s.table+" (entity_key)"); err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", name)
	if err != nil {
		return err
	}
	var have []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		have = append(have, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range feastColumns {
		if !slices.Contains(have, c) {
			return fmt.Errorf("existing table %s has no column %s: it is not Feast's online table (columns %s)", s.table, c, strings.Join(have, ", "))
		}
	}
	for _, c := range []string{colEventMs, colRevision} {
		if !slices.Contains(have, c) {
			if _, err := s.db.ExecContext(ctx, "ALTER TABLE "+s.table+" ADD COLUMN "+c+" INTEGER"); err != nil {
				return err
			}
		}
	}
	cols := append(slices.Clone(feastColumns), colEventMs, colRevision)
	var set []string
	for _, c := range cols[2:] {
		set = append(set, c+" = excluded."+c)
	}
	// The conflict target fails to prepare on a table without Feast's
	// primary key, so Open refuses such a table.
	s.put = "INSERT INTO " + s.table + " (" + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)-1) +
		") ON CONFLICT(entity_key, feature_name) DO UPDATE SET " + strings.Join(set, ", ") +
		" WHERE excluded." + colEventMs + " > " + storedMs(s.table) +
		" OR excluded." + colEventMs + " = " + storedMs(s.table) + " AND excluded." + colRevision + " >= " + storedRev(s.table)
	s.get = "SELECT feature_name, value, " + storedMs(s.table) + ", " + storedRev(s.table) + " FROM " + s.table + " WHERE entity_key = ?"
	if s.view.TTL > 0 {
		s.sweepSQL = "DELETE FROM " + s.table + " WHERE rowid IN (SELECT rowid FROM " + s.table +
			" WHERE " + storedMs(s.table) + " + " + strconv.FormatInt(s.view.TTL.Milliseconds(), 10) + " < ? LIMIT 10000)"
	}
	st, err := s.db.PrepareContext(ctx, s.put)
	if err != nil {
		return fmt.Errorf("table %s: %w", s.table, err)
	}
	return st.Close()
}

// putFeast writes rows in one transaction, one row of Feast's table per
// feature.
func (s *Store) putFeast(ctx context.Context, tx *sql.Tx, rows []featurestore.Row) error {
	st, err := tx.PrepareContext(ctx, s.put)
	if err != nil {
		return err
	}
	defer st.Close()
	created := time.Now().Unix()
	for _, r := range rows {
		if len(r.Values) != len(s.view.Features) {
			return fmt.Errorf("row of %q has %d values, view %q has %d features", r.Entity, len(r.Values), s.view.Name, len(s.view.Features))
		}
		key := feast.EntityKey(s.view.Entity, r.Entity)
		ts := feast.SQLiteTimestamp(r.EventTime)
		for i, f := range s.view.Features {
			var text any
			if t, ok := feast.SQLiteValueText(f.Type, r.Values[i]); ok {
				text = t
			}
			// A null is the empty Value (a zero-length BLOB, not NULL, which
			// Feast's ParseFromString could not read).
			if _, err := st.ExecContext(ctx, key, f.Name, feast.EncodeValue(f.Type, r.Values[i]), text, ts, created, r.EventTime, r.Revision); err != nil {
				return err
			}
		}
	}
	return nil
}

// getFeast reads each entity's rows of Feast's table. A feature without a
// row (Feast wrote a subset) is null; the row's event time and revision are
// the newest of its features'.
func (s *Store) getFeast(ctx context.Context, entities []string) ([]*featurestore.Row, error) {
	st, err := s.db.PrepareContext(ctx, s.get)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get: %w", err)
	}
	defer st.Close()
	now := time.Now()
	out := make([]*featurestore.Row, len(entities))
	for i, e := range entities {
		r, err := s.getFeastOne(ctx, st, e)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: get %q: %w", e, err)
		}
		if r != nil && !s.view.Expired(r.EventTime, now) {
			out[i] = r
		}
	}
	return out, nil
}

func (s *Store) getFeastOne(ctx context.Context, st *sql.Stmt, entity string) (*featurestore.Row, error) {
	rows, err := st.QueryContext(ctx, feast.EntityKey(s.view.Entity, entity))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var r *featurestore.Row
	for rows.Next() {
		var (
			name    string
			value   []byte
			ms, rev int64
		)
		if err := rows.Scan(&name, &value, &ms, &rev); err != nil {
			return nil, err
		}
		j := slices.IndexFunc(s.view.Features, func(f featurestore.Feature) bool { return f.Name == name })
		if j < 0 {
			continue // a feature the view no longer has
		}
		if r == nil {
			r = &featurestore.Row{Entity: entity, EventTime: ms, Revision: rev, Values: make([]featurestore.Value, len(s.view.Features))}
			for k := range r.Values {
				r.Values[k].Null = true
			}
		}
		if ms > r.EventTime || ms == r.EventTime && rev > r.Revision {
			r.EventTime, r.Revision = ms, rev
		}
		if r.Values[j], err = feast.DecodeValue(s.view.Features[j].Type, value); err != nil {
			return nil, fmt.Errorf("feature %s: %w", name, err)
		}
	}
	return r, rows.Err()
}
