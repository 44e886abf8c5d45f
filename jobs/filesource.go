package jobs

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/shardflow/shardflow/sources/file"
)

// fileConfig parses the GLOB[?follow=BOOL] of a file:// spec. The query
// starts at the last '?' that a parameter follows, so that a '?' of the glob
// (any one character) stays in it; the glob is path-unescaped (%3F is a
// literal '?' of the glob, before a query or not).
func fileConfig(rest string) (file.Config, error) {
	var cfg file.Config
	if i := strings.LastIndexByte(rest, '?'); i >= 0 && strings.Contains(rest[i+1:], "=") {
		params, err := url.ParseQuery(rest[i+1:])
		if err != nil {
			return cfg, err
		}
		for k, v := range params {
			if k != "follow" {
				return cfg, fmt.Errorf("unknown parameter %q (want follow)", k)
			}
			if cfg.Follow, err = strconv.ParseBool(v[len(v)-1]); err != nil {
				return cfg, fmt.Errorf("follow=%q, want 1, true, 0 or false", v[len(v)-1])
			}
		}
		rest = rest[:i]
	}
	glob, err := url.PathUnescape(rest)
	if err != nil {
		return cfg, err
	}
	cfg.Glob = glob
	return cfg, nil
}
