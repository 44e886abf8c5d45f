package pipeline

// StateConfig bounds the in-memory state of a job's keyed stage (the
// WithStateLimit and WithStateSpill options). The keyed operators that keep
// large state (the window operators of package windows) estimate their state
// bytes as it grows and compare them with Limit after every batch.
type StateConfig struct {
	// Limit is the most state, in bytes, an instance of the keyed stage may
	// hold in memory; 0 for no limit. Over it, an operator without a spill
	// store fails the job with an error that names what the state holds,
	// the limit and what to do; the job's last checkpoint stays valid.
	Limit int64
	// Spill, when not nil, opens a store that an instance moves its largest
	// state to once it is over Limit, instead of failing. name identifies the
	// instance (stage and partition). Operators open it the first time they
	// spill, not when they are made, and close it when they close.
	Spill func(name string) (SpillStore, error)
}

// SpillStore is an ordered set of byte keys on disk that a keyed operator
// moves state to (package internal/pebblestate implements it with pebble).
// It is scratch space: checkpoints still hold the operator's whole state, and
// a restart never reads what a previous process left in it. It is used from
// the one goroutine that runs the operator.
type SpillStore interface {
	// Add inserts keys; adding a key twice keeps one. The store does not
	// keep the slices.
	Add(keys [][]byte) error
	// Scan calls f with every key that starts with prefix, in byte order,
	// until f returns an error, which Scan returns. The key is valid only
	// during the call.
	Scan(prefix []byte, f func(key []byte) error) error
	// DeletePrefix removes every key that starts with prefix.
	DeletePrefix(prefix []byte) error
	// Close releases the store and removes what it wrote.
	Close() error
}

// WithStateLimit bounds the in-memory state of each instance of the job's
// keyed stage to limit bytes (see StateConfig.Limit); 0 removes the bound.
func WithStateLimit(limit int64) Option {
	return func(j *Job) { j.state.Limit = max(limit, 0) }
}

// WithStateSpill lets the keyed stage move its largest state to stores that
// open makes once it is over the limit of WithStateLimit, keeping results
// exact (see StateConfig.Spill). Without a limit it does nothing.
func WithStateSpill(open func(name string) (SpillStore, error)) Option {
	return func(j *Job) { j.state.Spill = open }
}
