package leases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Clock tells the coordinator the time; tests pass one they advance.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Metrics receives a coordinator's lease counts. Methods are called from
// Round and Checkpoint; implementations must be safe for concurrent use.
type Metrics interface {
	Held(owner string, n int)    // leases held after a round
	Taken(owner, key string)     // an unowned or expired lease taken
	Stolen(owner, key string)    // a hand-off requested from a more loaded worker
	Lost(owner, key string)      // a lease found taken by another worker
	HandedOff(owner, key string) // a lease given to another worker by hand-off
}

type nopMetrics struct{}

func (nopMetrics) Held(string, int)         {}
func (nopMetrics) Taken(string, string)     {}
func (nopMetrics) Stolen(string, string)    {}
func (nopMetrics) Lost(string, string)      {}
func (nopMetrics) HandedOff(string, string) {}

// Config configures a Coordinator.
type Config struct {
	Table *Table
	Owner string // this worker's id, unique among the job's workers

	// Period is how often Run calls Round (default 10 s); Expiry is how long a
	// lease's counter must stay unchanged before other workers treat it as
	// expired (default 3 periods).
	Period, Expiry time.Duration

	// MaxStealPerRound bounds the hand-offs requested in one round (0: as
	// many as the fair share needs).
	MaxStealPerRound int

	// HandOff is called when another worker asked for one of this worker's
	// leases, before the lease is released: stop reading the shard and
	// commit with Coordinator.Checkpoint. Nil releases at the last commit.
	HandOff func(ctx context.Context, l Lease) error

	Clock   Clock        // default: the system clock
	Metrics Metrics      // default: none
	Logger  *slog.Logger // default: slog.Default()
}

// Validate checks c and fills its defaults.
func (c *Config) Validate() error {
	if c.Table == nil || c.Owner == "" {
		return errors.New("leases: Config needs a Table and an Owner")
	}
	if c.Period <= 0 {
		c.Period = 10 * time.Second
	}
	if c.Expiry <= 0 {
		c.Expiry = 3 * c.Period
	}
	if c.Expiry < c.Period {
		return fmt.Errorf("leases: Expiry %v shorter than Period %v", c.Expiry, c.Period)
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Coordinator runs one worker's lease rounds.
type Coordinator struct {
	cfg     Config
	roundMu sync.Mutex // one round at a time

	mu         sync.Mutex // guards held, throughput; held during writes of a held lease
	held       map[string]*Lease
	throughput map[string]float64

	seen map[string]observation // owned by the round
}

type observation struct {
	counter int64
	at      time.Time
}

// NewCoordinator returns a coordinator; it starts nothing.
func NewCoordinator(cfg Config) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Coordinator{cfg: cfg, held: map[string]*Lease{}, throughput: map[string]float64{}, seen: map[string]observation{}}, nil
}

// Run calls Round every Period until ctx ends; it returns the first error
// that is not a lost lease.
func (c *Coordinator) Run(ctx context.Context) error {
	tk := time.NewTicker(c.cfg.Period)
	defer tk.Stop()
	for {
		if err := c.Round(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
	}
}

// Held returns copies of the leases this worker holds, hand-offs it is
// completing included.
func (c *Coordinator) Held() []Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Lease, 0, len(c.held))
	for _, l := range c.held {
		out = append(out, *l)
	}
	return out
}

// SetThroughput records the shard's measured records/s, written with the
// next renewal for the planners of every worker.
func (c *Coordinator) SetThroughput(key string, rps float64) {
	c.mu.Lock()
	c.throughput[key] = rps
	c.mu.Unlock()
}

// Checkpoint commits the shard's position and state, fenced by the lease:
// a *ConditionError (errors.Is ErrLeaseLost) means another worker holds it
// and nothing was written.
func (c *Coordinator) Checkpoint(ctx context.Context, key, seq string, sub int64, state []byte) error {
	return c.withHeld(key, func(l *Lease) error { return c.cfg.Table.Checkpoint(ctx, l, c.cfg.Owner, seq, sub, state) })
}

// MarkShardEnd checkpoints SHARD_END for a shard read to its end.
func (c *Coordinator) MarkShardEnd(ctx context.Context, key string, children []string) error {
	return c.withHeld(key, func(l *Lease) error { return c.cfg.Table.MarkShardEnd(ctx, l, c.cfg.Owner, children) })
}

// Release gives a lease up (at shutdown, after its last checkpoint).
func (c *Coordinator) Release(ctx context.Context, key string) error {
	err := c.withHeld(key, func(l *Lease) error { return c.cfg.Table.Release(ctx, l, c.cfg.Owner) })
	if err == nil {
		c.mu.Lock()
		delete(c.held, key)
		c.mu.Unlock()
	}
	return err
}

func (c *Coordinator) withHeld(key string, f func(*Lease) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.held[key]
	if !ok {
		return fmt.Errorf("leases: %s not held by %s: %w", key, c.cfg.Owner, ErrLeaseLost)
	}
	cp := *l
	err := f(&cp)
	if err == nil {
		*l = cp
	} else if errors.Is(err, ErrLeaseLost) {
		delete(c.held, key)
		c.cfg.Metrics.Lost(c.cfg.Owner, key)
	}
	return err
}

// Round runs one lease round: complete hand-offs asked of this worker,
// renew its leases, adopt hand-offs to it that completed, and take its fair
// share (Plan).
func (c *Coordinator) Round(ctx context.Context) error {
	c.roundMu.Lock()
	defer c.roundMu.Unlock()
	me, t := c.cfg.Owner, c.cfg.Table
	all, err := t.List(ctx)
	if err != nil {
		return err
	}
	now := c.cfg.Clock.Now()
	byKey := make(map[string]Lease, len(all))
	for _, l := range all {
		byKey[l.Key] = l
		if o, ok := c.seen[l.Key]; !ok || o.counter != l.Counter {
			c.seen[l.Key] = observation{counter: l.Counter, at: now}
		}
	}
	expired := func(l Lease) bool { return l.Owner != "" && now.Sub(c.seen[l.Key].at) >= c.cfg.Expiry }

	// Hand-offs asked of me: commit (the hook), then release.
	for _, l := range all {
		if l.CheckpointOwner != me {
			continue
		}
		c.mu.Lock()
		cp := l
		c.held[l.Key] = &cp
		c.mu.Unlock()
		if c.cfg.HandOff != nil {
			if err := c.cfg.HandOff(ctx, l); err != nil && !errors.Is(err, ErrLeaseLost) {
				return fmt.Errorf("leases: hand-off %s: %w", l.Key, err)
			}
		}
		err := c.withHeld(l.Key, func(hl *Lease) error { return t.CompleteHandOff(ctx, hl, me) })
		c.mu.Lock()
		delete(c.held, l.Key)
		c.mu.Unlock()
		if err != nil && !errors.Is(err, ErrLeaseLost) {
			return err
		}
		if err == nil {
			c.cfg.Metrics.HandedOff(me, l.Key)
		}
	}

	// Renew what I hold; a failed condition is a lost lease.
	c.mu.Lock()
	keys := make([]string, 0, len(c.held))
	for k := range c.held {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		c.mu.Lock()
		tp := c.throughput[k]
		c.mu.Unlock()
		err := c.withHeld(k, func(l *Lease) error { return t.Renew(ctx, l, me, tp) })
		if err != nil && !errors.Is(err, ErrLeaseLost) {
			return err
		}
	}

	// Hand-offs to me that completed; those whose old owner went silent.
	for _, l := range all {
		if l.Owner != me {
			continue
		}
		c.mu.Lock()
		_, mine := c.held[l.Key]
		c.mu.Unlock()
		if mine {
			continue
		}
		cp := l
		if l.HandingOff() {
			if !expired(l) {
				continue
			}
			if err := t.Take(ctx, &cp, me); err != nil {
				if errors.Is(err, ErrLeaseLost) {
					continue
				}
				return err
			}
		}
		c.mu.Lock()
		c.held[l.Key] = &cp
		c.mu.Unlock()
	}

	// My fair share.
	var plan []PlanLease
	for _, l := range all {
		if !Leasable(l, byKey) {
			continue
		}
		plan = append(plan, PlanLease{Key: l.Key, Owner: l.Owner, Expired: expired(l) && l.Owner != me, HandingOff: l.HandingOff(), Throughput: l.Throughput})
	}
	p := Plan(me, plan, c.cfg.MaxStealPerRound)
	for _, k := range p.Take {
		l := byKey[k]
		if err := t.Take(ctx, &l, me); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				continue // another worker was faster
			}
			return err
		}
		c.mu.Lock()
		c.held[k] = &l
		c.mu.Unlock()
		c.cfg.Metrics.Taken(me, k)
	}
	for _, k := range p.Steal {
		l := byKey[k]
		if err := t.RequestHandOff(ctx, &l, me); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				continue
			}
			return err
		}
		c.cfg.Metrics.Stolen(me, k)
	}
	c.mu.Lock()
	n := len(c.held)
	c.mu.Unlock()
	c.cfg.Metrics.Held(me, n)
	return nil
}
