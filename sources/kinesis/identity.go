package kinesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/kinesiserr"
	"github.com/shardflow/shardflow/pipeline"
)

// describer is the optional call that tells a stream's ARN when the source is
// configured with its name. *kinesis.Client has it; a client without it
// (a test fake) identifies the stream by name only.
type describer interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// identity is what a checkpoint records of the stream it was taken of: its
// name, its ARN (another account or region) and its creation time. A stream
// deleted and created again under the same name has the same ARN (an ARN is
// arn:aws:kinesis:REGION:ACCOUNT:stream/NAME, on AWS as on kinesis-local)
// but another creation time, and its sequence numbers do not continue the
// old ones. What the server does not tell is left out and not compared. The
// consumer is recorded for the reader's information only: switching between
// polling and enhanced fan-out of the same stream is compatible.
type identity struct {
	Stream   string     `json:"stream"`
	ARN      string     `json:"arn,omitempty"`
	Created  *time.Time `json:"created,omitempty"`
	Consumer string     `json:"consumer,omitempty"`
	// LatestFrom is, for a job that starts at latest, when it first started
	// reading (see Source.latestFrom); not compared.
	LatestFrom *time.Time `json:"latest_from,omitempty"`
	// Tips is, for a replay bounded by StopAt.Tips, where each shard ends
	// (versioned: tipSet.V); not compared. A checkpoint written before tips
	// existed has none, and a replay resumed from it captures them anew.
	Tips *tipSet `json:"tips,omitempty"`
}

func (id identity) String() string {
	s := fmt.Sprintf("stream %q", id.Stream)
	switch {
	case id.ARN != "" && id.Created != nil:
		s += fmt.Sprintf(" (%s, created %s)", id.ARN, id.Created.UTC().Format(time.RFC3339Nano))
	case id.ARN != "":
		s += " (" + id.ARN + ")"
	case id.Created != nil:
		s += " (created " + id.Created.UTC().Format(time.RFC3339Nano) + ")"
	}
	return s
}

// streamName is the stream's name, also when configured by ARN.
func (s *Source) streamName() string {
	if s.stream.arn != nil {
		name, _ := streamNameFromARN(*s.stream.arn) // Validate checked it
		return name
	}
	return s.cfg.Stream
}

// identityLocked is the stream's identity as far as it is known. What this
// run could not learn (the stream could not be described) is kept from the
// checkpoint it resumed, so that a checkpoint does not lose what its
// predecessor knew and a later delete-and-recreate is still refused.
func (s *Source) identityLocked() identity {
	id := identity{Stream: s.streamName(), ARN: s.streamARN, Created: s.created, Consumer: s.cfg.Consumer}
	if s.start.typ == types.ShardIteratorTypeLatest {
		at := s.latestFrom
		id.LatestFrom = &at
	}
	if s.keepsTips() {
		id.Tips = s.tips
	}
	if r := s.resumed; r != nil && r.Stream == id.Stream {
		if id.ARN == "" {
			id.ARN = r.ARN
		}
		if id.Created == nil {
			id.Created = r.Created
		}
	}
	return id
}

// Identity implements pipeline.Identifier: the stream's name, its ARN once
// known (the first listing learns it) and the fan-out consumer, as JSON.
func (s *Source) Identity() []byte {
	s.idMu.Lock()
	id := s.identityLocked()
	s.idMu.Unlock()
	b, _ := json.Marshal(id) // strings only: cannot fail
	return b
}

// Resume implements pipeline.Identifier. It refuses a checkpoint of another
// stream: another name, or the same name with another ARN (the stream was
// deleted and created again). When the stream's ARN is not known yet (the
// source was configured by name and not listed yet) the comparison waits
// for the first listing, which comes before any shard is opened and returns
// the same error.
func (s *Source) Resume(prev []byte) error {
	if len(prev) == 0 {
		return nil
	}
	var id identity
	if err := json.Unmarshal(prev, &id); err != nil || id.Stream == "" {
		return fmt.Errorf("kinesis: the checkpoint's source identity %q is not a Kinesis stream's: %w", prev, pipeline.ErrIncompatibleSource)
	}
	if s.keepsTips() && id.Tips != nil && id.Tips.V > tipsVersion {
		return fmt.Errorf("kinesis: the checkpoint's shard tips have format version %d, this shardflow reads up to %d: resume with the shardflow that wrote it: %w",
			id.Tips.V, tipsVersion, pipeline.ErrIncompatibleSource)
	}
	s.idMu.Lock()
	defer s.idMu.Unlock()
	s.resumed = &id
	switch {
	case s.keepsTips() && id.Tips != nil:
		s.tips = id.Tips // the replay ends where it was bound when it started
	case s.boundByTips():
		s.cfg.Logger.Warn("the checkpoint has no shard tips (written before replays kept them): this replay ends at the tips of its first read now",
			"stream", s.cfg.Stream)
	}
	if id.LatestFrom != nil && s.start.typ == types.ShardIteratorTypeLatest {
		s.latestFrom, s.resumedAt = *id.LatestFrom, true
	}
	if !s.learned {
		return nil
	}
	s.resumeErr = s.checkResumeLocked()
	return s.resumeErr
}

// checkResumeLocked compares the identity given to Resume with this source's.
func (s *Source) checkResumeLocked() error {
	prev, cur := *s.resumed, s.identityLocked()
	var why string
	switch {
	case prev.Stream != cur.Stream:
	case prev.ARN != "" && cur.ARN != "" && prev.ARN != cur.ARN:
	case prev.Created != nil && cur.Created != nil && !prev.Created.Equal(*cur.Created):
		why = " (the stream was deleted and created again: its sequence numbers do not continue the checkpoint's)"
	default:
		return nil
	}
	return fmt.Errorf("kinesis: the checkpoint was taken of %s, this job reads %s%s; resume with the stream it was taken of, "+
		"or start over with a new checkpoint directory and --overwrite: %w", prev, cur, why, pipeline.ErrIncompatibleSource)
}

// learnIdentity asks for the stream's ARN once, then checks the identity
// given to Resume, if any. A client that may not describe the stream (an
// access policy without kinesis:DescribeStreamSummary) leaves the name as
// the identity, with a warning.
func (s *Source) learnIdentity(ctx context.Context) error {
	s.idMu.Lock()
	learned := s.learned
	s.idMu.Unlock()
	if !learned {
		arn, created, retention, err := s.describe(ctx)
		if _, gaveUp := errors.AsType[*kinesiserr.GaveUpError](err); gaveUp || (err != nil && ctx.Err() != nil) {
			return err
		} else if err != nil {
			s.cfg.Logger.Warn("cannot learn the stream's ARN; checkpoints identify the stream by name only",
				"stream", s.cfg.Stream, "err", err)
		}
		s.idMu.Lock()
		if arn != "" {
			s.streamARN = arn
		}
		s.created, s.learned = created, true
		if s.resumed != nil {
			s.resumeErr = s.checkResumeLocked()
		}
		s.retention = retention
		s.idMu.Unlock()
	}
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return s.resumeErr
}

// checkRetention refuses to start a shard at a time that the stream no
// longer retains (before now - its retention period, once a listing has
// learned it): Kinesis would silently start such a shard at its oldest
// record, and the records in between would be missing without a word.
func (s *Source) checkRetention(now time.Time) error {
	retention := s.retentionPeriod()
	if retention <= 0 || s.start.typ != types.ShardIteratorTypeAtTimestamp {
		return nil
	}
	if oldest := now.Add(-retention); s.start.at.Before(oldest) {
		return fmt.Errorf("%w: %s is older than what stream %s retains (%d hours): its oldest records are from about %s; "+
			"start there or later, or at trim_horizon to read what is left",
			ErrExpired, s.start.at.UTC().Format(time.RFC3339), s.cfg.Stream, int(retention.Hours()), oldest.UTC().Format(time.RFC3339))
	}
	return nil
}

// describe returns the stream's ARN, creation time and retention period
// from DescribeStreamSummary, retried as the source's other calls; "", nil
// and 0 for what the server does not tell.
func (s *Source) describe(ctx context.Context) (arn string, created *time.Time, retention time.Duration, err error) {
	api, ok := s.api.(describer)
	if !ok {
		return "", nil, 0, nil
	}
	var out *kinesis.DescribeStreamSummaryOutput
	err = s.call(ctx, fmt.Sprintf("describe stream %q", s.cfg.Stream), func(ctx context.Context) (err error) {
		out, err = api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: s.stream.name, StreamARN: s.stream.arn}, ownRetries)
		return err
	})
	if err != nil || out.StreamDescriptionSummary == nil {
		return "", nil, 0, err
	}
	sum := out.StreamDescriptionSummary
	return aws.ToString(sum.StreamARN), sum.StreamCreationTimestamp, time.Duration(aws.ToInt32(sum.RetentionPeriodHours)) * time.Hour, nil
}

// knownARN returns the stream's ARN when known: configured, or learned by a
// listing.
func (s *Source) knownARN() string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return s.streamARN
}

// Trouble implements pipeline.TroubleReporter: by shard, the failure its
// reader has been retrying since the streak was first reported (the third
// consecutive failure), until a call succeeds again.
func (s *Source) Trouble() map[string]string {
	s.troubleMu.Lock()
	defer s.troubleMu.Unlock()
	if len(s.trouble) == 0 {
		return nil
	}
	return maps.Clone(s.trouble)
}

// setTrouble records (or, with "", clears) the trouble of a shard.
func (s *Source) setTrouble(shard, what string) {
	s.troubleMu.Lock()
	defer s.troubleMu.Unlock()
	if what == "" {
		delete(s.trouble, shard)
		return
	}
	s.trouble[shard] = what
}

// resumedLatest returns, for a job resumed from a checkpoint that started at
// latest, the time the job first started reading; zero otherwise.
func (s *Source) resumedLatest() time.Time {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if !s.resumedAt {
		return time.Time{}
	}
	return s.latestFrom
}

// replayKey is what a bounded read of the stream reads (ReplayKey): the
// stream, where each shard starts (Config.Start) and where it ends.
type replayKey struct {
	Stream    string                       `json:"stream"`
	ARN       string                       `json:"arn,omitempty"`
	Created   *time.Time                   `json:"created,omitempty"`
	Start     string                       `json:"start"`
	Until     *time.Time                   `json:"until,omitempty"`
	Positions map[string]pipeline.Position `json:"positions,omitempty"`
	Open      map[string]string            `json:"open,omitempty"`   // the tips
	Closed    []string                     `json:"closed,omitempty"` // at the tips' capture
}

// ReplayKey implements pipeline.Replayable for a source with a StopAt: the
// stream's identity, Config.Start and the bound; with StopAt.Tips, the
// tips themselves (restored from the checkpoint, or captured now), so that
// a replay "to now" of a stream that has grown since is another replay.
// A checkpoint's consumer and the tips' capture time are left out: they do
// not change which records are read. An unbounded source has no key.
func (s *Source) ReplayKey(ctx context.Context) ([]byte, error) {
	stop := s.cfg.StopAt
	if stop == nil {
		return nil, fmt.Errorf("kinesis: stream %s is read without a bound (StopAt), so what it reads is not fixed", s.cfg.Stream)
	}
	if err := s.learnIdentity(ctx); err != nil {
		return nil, err
	}
	key := replayKey{Start: s.cfg.Start, Positions: stop.Positions}
	if !stop.Time.IsZero() {
		t := stop.Time.UTC()
		key.Until = &t
	}
	if stop.Tips {
		t, err := s.awaitTips(ctx, time.Now().Add(maxLookback))
		if err != nil {
			return nil, err
		}
		key.Open, key.Closed = t.Open, slices.Sorted(slices.Values(t.Closed))
	}
	s.idMu.Lock()
	id := s.identityLocked()
	s.idMu.Unlock()
	key.Stream, key.ARN, key.Created = id.Stream, id.ARN, id.Created
	if key.Created != nil {
		c := key.Created.UTC()
		key.Created = &c
	}
	return json.Marshal(key)
}
