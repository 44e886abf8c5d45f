package main

import "runtime/debug"

// version is what --version prints: the main module's version when the binary
// was built from a tagged module (go install ...@v1.2.3), else "devel" and the
// VCS revision the build recorded, if any.
func version(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "devel"
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		v += " " + rev
		if modified == "true" {
			v += "-dirty"
		}
	}
	return v
}
