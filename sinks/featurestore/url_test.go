package featurestore

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want Location
	}{
		{"sqlite://./shardflow-data/features.db", Location{Scheme: "sqlite", Target: "./shardflow-data/features.db", Layout: Native}},
		{"sqlite:///var/lib/f.db?layout=feast&project=shop", Location{Scheme: "sqlite", Target: "/var/lib/f.db", Layout: Feast, Project: "shop"}},
		{"redis://127.0.0.1:6379/2", Location{Scheme: "redis", Target: "127.0.0.1:6379/2", Layout: Native}},
		{"dynamodb://features?layout=feast&project=shop", Location{Scheme: "dynamodb", Target: "features", Layout: Feast, Project: "shop"}},
	} {
		got, err := ParseURL(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got.Scheme != c.want.Scheme || got.Target != c.want.Target || got.Layout != c.want.Layout || got.Project != c.want.Project || got.String() != c.url {
			t.Errorf("%s: got %+v, want %+v", c.url, got, c.want)
		}
		if err := got.Unknown(); err != nil {
			t.Errorf("%s: %v", c.url, err)
		}
	}
	for url, msg := range map[string]string{
		"features.db":                  "is not a URL",
		"postgres://db":                "unknown store",
		"redis://":                     "names no server",
		"sqlite://f.db?layout=feast":   "needs project",
		"sqlite://f.db?layout=columns": "layout",
		"sqlite://f.db?project=shop":   "only for layout=feast",
	} {
		if _, err := ParseURL(url); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: got error %v, want one saying %q", url, err, msg)
		}
	}
	loc, err := ParseURL("redis://h:1/0?pool=3&b=1")
	if err != nil {
		t.Fatal(err)
	}
	if err := loc.Unknown("pool"); err == nil || !strings.Contains(err.Error(), "unknown parameter b") {
		t.Errorf("Unknown: %v", err)
	}
}
