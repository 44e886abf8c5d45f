// Package featurestore writes a job's rows to an online feature store, where
// a model server reads an entity's latest feature values in milliseconds:
// SQLite (the embedded default), Redis or DynamoDB, each in shardflow's own
// layout or in Feast's, chosen by URL (see ParseURL).
//
// Every row carries the event time of the newest record it reflects, and a
// store never replaces a row with one of an older event time, so a replay or
// a restart that writes old values again cannot move an entity back in time.
// The Sink stages its rows at a checkpoint's barrier and puts them at the
// checkpoint's commit.
package featurestore

import (
	"context"
	"fmt"
	"time"
)

// Type is the type of a feature's values.
type Type uint8

// The feature types.
const (
	Int64 Type = iota + 1
	Float64
	String
	// Timestamp values are Unix milliseconds in Value.Int.
	Timestamp
)

func (t Type) String() string {
	switch t {
	case Int64:
		return "int64"
	case Float64:
		return "float64"
	case String:
		return "string"
	case Timestamp:
		return "timestamp"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Feature is one feature of a view.
type Feature struct {
	Name string
	Type Type
}

// View describes a feature view: the features a job keeps per entity.
type View struct {
	// Name is the feature view's name, e.g. "user_features".
	Name string
	// Entity is the name of the entity's join key, e.g. "user_id"; its values
	// are strings.
	Entity string
	// Features are the view's features, in the order of Row.Values.
	Features []Feature
	// TTL is how long after its event time a row stays readable; 0 keeps it
	// for ever. Get never returns an expired row; each store also deletes
	// expired rows in its own way (see the store's package).
	TTL time.Duration
}

// Validate checks that v can be stored.
func (v View) Validate() error {
	if v.Name == "" || v.Entity == "" {
		return fmt.Errorf("featurestore: view %q: a name and an entity are needed", v.Name)
	}
	if len(v.Features) == 0 {
		return fmt.Errorf("featurestore: view %q has no features", v.Name)
	}
	seen := map[string]bool{v.Entity: true}
	for _, f := range v.Features {
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("featurestore: view %q: feature name %q is empty or used twice", v.Name, f.Name)
		}
		seen[f.Name] = true
		if f.Type < Int64 || f.Type > Timestamp {
			return fmt.Errorf("featurestore: view %q: feature %q has no type", v.Name, f.Name)
		}
	}
	if v.TTL < 0 {
		return fmt.Errorf("featurestore: view %q: negative TTL %v", v.Name, v.TTL)
	}
	return nil
}

// Expired reports whether a row of event time eventTime (Unix ms) has expired
// at now under the view's TTL.
func (v View) Expired(eventTime int64, now time.Time) bool {
	return v.TTL > 0 && time.UnixMilli(eventTime).Add(v.TTL).Before(now)
}

// Value is one feature value; which field holds it depends on the feature's
// Type.
type Value struct {
	Int   int64 // Int64 and Timestamp
	Float float64
	Str   string
	// Null marks a missing value (a user without a purchase has no last
	// purchase); the other fields are zero.
	Null bool
}

// Row is an entity's feature values as of an event time.
type Row struct {
	// Entity is the entity's key, e.g. a user id.
	Entity string
	// EventTime is the event time, in Unix milliseconds, of the newest record
	// the values reflect.
	EventTime int64
	// Revision orders rows of the same EventTime: a row that reflects more
	// records of that instant (out-of-order records arrive after the newest
	// one) has a greater revision, e.g. the count of records it reflects. A
	// job whose values cannot grow at a fixed event time leaves it 0.
	Revision int64
	// Values are the feature values, in the order of View.Features.
	Values []Value
}

// Store is an online store of one feature view's rows.
//
// Put and Get may be called from different goroutines, but not concurrently
// with Close.
type Store interface {
	// Put writes rows, whose entities are distinct. A row replaces the
	// entity's stored row only if its (EventTime, Revision) is not older
	// than the stored one's, compared in that order: an equal pair replaces
	// (the same row again), an older one is ignored. Put is idempotent, so a
	// failed Put is retried whole.
	Put(ctx context.Context, rows []Row) error
	// Get returns the stored rows of entities, in their order: nil for an
	// entity that has none or whose row has expired.
	Get(ctx context.Context, entities []string) ([]*Row, error)
	// Close releases the store's connections.
	Close() error
}
