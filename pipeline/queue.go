package pipeline

import "context"

// The sink tasks and the keyed stage's tasks each serve a bounded queue of
// messages that may hold a batch. These are their common moves.

// enqueue sends m on q; false when ctx ended first, and then m's batch is
// released.
func enqueue[M interface{ release() }](ctx context.Context, q chan<- M, m M) bool {
	select {
	case q <- m:
		return true
	case <-ctx.Done():
		m.release()
		return false
	}
}

// serveQueue calls serve with each message of q until q is closed (nil),
// serve fails (its error) or ctx ends (nil: the job's error is elsewhere).
func serveQueue[M any](ctx context.Context, q <-chan M, serve func(M) error) error {
	for {
		select {
		case m, ok := <-q:
			if !ok {
				return nil
			}
			if err := serve(m); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// drainQueue releases the batches of the messages still queued on q once its
// task has stopped.
func drainQueue[M interface{ release() }](q <-chan M) {
	for {
		select {
		case m, ok := <-q:
			if !ok {
				return
			}
			m.release()
		default:
			return
		}
	}
}
