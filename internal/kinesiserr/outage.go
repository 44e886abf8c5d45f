package kinesiserr

import (
	"fmt"
	"time"
)

// GaveUpError is what a retrying caller returns when it stops retrying: its
// attempts ran out, or its context ended (Stop, for example
// context.DeadlineExceeded under a start-up timeout). It names the last
// failure of a call instead of only the context's error, and wraps both, so
// that errors.Is finds either.
type GaveUpError struct {
	Attempts int           // calls made
	Elapsed  time.Duration // from the first call to giving up
	Last     error         // the last call's failure
	Stop     error         // the context's error, or nil when the attempts ran out
}

// Error reads "giving up after 12 attempts over 30s: last error: dial tcp
// 127.0.0.1:4567: connect: connection refused".
func (e *GaveUpError) Error() string {
	return fmt.Sprintf("giving up after %d attempts over %v: last error: %s", e.Attempts, Round(e.Elapsed), Describe(e.Last))
}

// Unwrap returns the last failure and the context's error.
func (e *GaveUpError) Unwrap() []error {
	if e.Stop == nil {
		return []error{e.Last}
	}
	return []error{e.Last, e.Stop}
}

// GaveUp returns the error of a caller that retried attempts calls since
// first and stops now: last is the last call's failure (the call that the
// context's end interrupted does not count, when an earlier one failed for a
// reason of its own), stop the context's error or nil.
func GaveUp(attempts int, first time.Time, last, stop error) error {
	if last == nil {
		return stop
	}
	return &GaveUpError{Attempts: attempts, Elapsed: time.Since(first), Last: last, Stop: stop}
}

// Round rounds d for a log line or message: to the second from a second on,
// else to the millisecond.
func Round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// Defaults of Streak.
const (
	// DefaultReportAfter is the consecutive failure that is reported first:
	// one or two failures are the ordinary weather of a remote service.
	DefaultReportAfter = 3
	// DefaultReportEvery is how often a failure that goes on is reported
	// again when its kind does not change.
	DefaultReportEvery = 5 * time.Minute
)

// Streak follows one caller's consecutive failures (a shard reader's, a
// producer's) and says when they are worth a line in the log: at the
// ReportAfter-th failure, again when the kind of failure changes or every
// ReportEvery while it goes on, and once when a call succeeds again after a
// reported streak. The zero value uses the defaults. A Streak is not safe for
// concurrent use.
type Streak struct {
	ReportAfter int           // default DefaultReportAfter
	ReportEvery time.Duration // default DefaultReportEvery

	n          int
	first      time.Time
	last       error
	kind       string
	reported   bool
	reportedAt time.Time
}

// Fail records a failure at now and reports whether to log it now.
func (s *Streak) Fail(now time.Time, err error) (report bool) {
	after, every := s.ReportAfter, s.ReportEvery
	if after <= 0 {
		after = DefaultReportAfter
	}
	if every <= 0 {
		every = DefaultReportEvery
	}
	if s.n == 0 {
		s.first = now
	}
	s.n++
	s.last = err
	kind := Kind(err)
	changed := kind != s.kind
	s.kind = kind
	switch {
	case s.n < after:
		return false
	case !s.reported, changed, now.Sub(s.reportedAt) >= every:
		s.reported, s.reportedAt = true, now
		return true
	}
	return false
}

// Succeed ends the streak. It returns how long the failures lasted and how
// many there were, and whether the streak had been reported, in which case
// its end is worth a line too.
func (s *Streak) Succeed(now time.Time) (lasted time.Duration, failures int, reported bool) {
	lasted, failures, reported = now.Sub(s.first), s.n, s.reported
	*s = Streak{ReportAfter: s.ReportAfter, ReportEvery: s.ReportEvery}
	return lasted, failures, reported
}

// Failures is the number of consecutive failures so far.
func (s *Streak) Failures() int { return s.n }

// Since is when the streak's first failure happened (zero without one).
func (s *Streak) Since() time.Time { return s.first }

// Last is the streak's last failure (nil without one).
func (s *Streak) Last() error { return s.last }

// Reported reports whether the streak has been reported (and goes on).
func (s *Streak) Reported() bool { return s.reported }
