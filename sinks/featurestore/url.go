package featurestore

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Layout is how a store lays out its keys and values.
type Layout string

const (
	// Native is shardflow's layout, readable with the store's own tools; each
	// store's package documents it.
	Native Layout = "native"
	// Feast is the layout of Feast's online store of the same kind, so that a
	// Feast feature server configured with the same project and feature view
	// reads what the job writes.
	Feast Layout = "feast"
)

// Location is a parsed feature-store URL:
//
//	sqlite://PATH                 a SQLite database file (sqlite:///abs/path or sqlite://./rel/path)
//	redis://HOST:PORT/DB          a Redis server and database number
//	dynamodb://TABLE              a DynamoDB table (the native layout) or table prefix
//
// with optional query parameters layout=native|feast (default native) and,
// for layout=feast, project=NAME (required). Other parameters are left in
// Query for the store to read or refuse.
type Location struct {
	Scheme string
	// Target is what the scheme addresses: the SQLite path, Redis's
	// HOST:PORT/DB, the DynamoDB table.
	Target  string
	Layout  Layout
	Project string
	Query   url.Values
	raw     string
}

// Schemes are the stores a Location may name.
var Schemes = []string{"sqlite", "redis", "dynamodb"}

// ParseURL parses a feature-store URL (see Location).
func ParseURL(s string) (Location, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Location{}, fmt.Errorf("featurestore: %q is not a URL: want sqlite://PATH, redis://HOST:PORT/DB or dynamodb://TABLE", s)
	}
	target, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Location{}, fmt.Errorf("featurestore: %q: %w", s, err)
	}
	loc := Location{Scheme: scheme, Target: target, Layout: Native, raw: s}
	switch scheme {
	case "sqlite", "redis", "dynamodb":
	default:
		return Location{}, fmt.Errorf("featurestore: %q: unknown store %q: want one of %s", s, scheme, strings.Join(Schemes, ", "))
	}
	if target == "" {
		return Location{}, fmt.Errorf("featurestore: %q names no %s", s, map[string]string{"sqlite": "file", "redis": "server", "dynamodb": "table"}[scheme])
	}
	if l := q.Get("layout"); l != "" {
		loc.Layout = Layout(l)
	}
	q.Del("layout")
	loc.Project = q.Get("project")
	q.Del("project")
	switch {
	case loc.Layout != Native && loc.Layout != Feast:
		return Location{}, fmt.Errorf("featurestore: %q: layout %q: want native or feast", s, loc.Layout)
	case loc.Layout == Feast && loc.Project == "":
		return Location{}, fmt.Errorf("featurestore: %q: layout=feast needs project=NAME (the Feast project of the feature view)", s)
	case loc.Layout == Native && loc.Project != "":
		return Location{}, fmt.Errorf("featurestore: %q: project is only for layout=feast", s)
	}
	loc.Query = q
	return loc, nil
}

// String returns the URL the location was parsed from.
func (l Location) String() string { return l.raw }

// Unknown returns an error naming the query parameters of l that a store
// does not read, or nil when there are none.
func (l Location) Unknown(known ...string) error {
	var bad []string
	for k := range l.Query {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("featurestore: %s: unknown parameter %s", l.raw, strings.Join(bad, ", "))
}
