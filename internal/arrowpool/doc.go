// Package arrowpool provides a memory.Allocator for arrow-go that recycles
// buffers instead of leaving every one of them to the garbage collector.
//
// Buffers are kept in free lists by size class (powers of two from 64 bytes
// up to Config.MaxClass), are 64-byte aligned as Arrow expects, and are
// handed out zeroed, exactly as memory.GoAllocator hands them out: arrow-go's
// builders clear their validity bitmaps themselves, but the values under a
// null slot of a primitive builder, and any code that reads a freshly
// allocated buffer before writing it, see whatever the allocator returned,
// so a recycled buffer must not show its previous owner's bytes.
//
// A buffer returns to its class on Free, which arrow-go calls when the last
// reference to a memory.Buffer is released. The pool is only as safe as the
// ownership of its callers: a slice or an unsafe string kept after Release
// (array.String.Value returns one) sees the next owner's bytes, where with
// memory.GoAllocator it would have kept the old ones alive. Everything that
// outlives a batch must be copied (strings.Clone) before the batch is
// released.
//
// The bytes kept in the free lists are bounded by Config.MaxRetained; a
// buffer freed beyond it, or larger than the largest class, is left to the
// garbage collector.
package arrowpool
