package archive

import (
	"io"
	"sync/atomic"
)

// ObjectProgress is how far an object has been read.
type ObjectProgress struct {
	Key  string
	Size int64 // bytes, as listed (compressed, for gzip)
	// Read is how many of the object's bytes (compressed, for gzip) have been
	// read from the file or S3, counting those a resumed shard skipped by a
	// seek or a ranged GET; read ahead of the records handed out by up to a
	// buffer (1 MiB at most).
	Read int64
}

// Progress returns every object of the listing, in key order, with how far
// it has been read. It is safe to call from any goroutine.
func (s *Source) Progress() []ObjectProgress {
	out := make([]ObjectProgress, len(s.objects))
	for i, o := range s.objects {
		out[i] = ObjectProgress{Key: o.Key, Size: o.Size, Read: s.read[o.Key].Load()}
	}
	return out
}

// countReads counts into n the bytes read from r, from start on.
func countReads(r io.ReadCloser, n *atomic.Int64, start int64) io.ReadCloser {
	n.Store(start)
	return &countingBody{ReadCloser: r, n: n}
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}
